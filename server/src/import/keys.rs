//! Natural keys: how a row finds the record it registers again, so that
//! importing the same file twice creates nothing the second time.
//!
//! - a resident: the ID number (upper case), within the node's grids (as
//!   `records.id_key` keeps it for the duplicate list);
//! - a household: its grid and its address;
//! - a place: its grid, its name and its address.
//!
//! Names and addresses are compared [`folded`]: white space trimmed and
//! runs of it as one space, full-width letters, digits and signs as their
//! ASCII forms (`１号楼` is `1号楼`). Nothing else is guessed (`1栋` and `1幢`
//! are two addresses).

use std::collections::HashMap;

use uuid::Uuid;

/// A record's natural key, as compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

/// Text as keys compare it.
pub fn folded(s: &str) -> String {
    let wide = s.chars().map(|c| match c {
        // Full-width ASCII forms (！ to ～) and the ideographic space.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        c => c,
    });
    wide.collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a key is made of that a row or a record lacks: the field's name.
pub type Missing = &'static str;

/// The key of a record of `collection` in `grid` whose fields `value`
/// reads (a scalar's text, none when unset or blank).
pub fn key_of<'a>(
    collection: &str,
    grid: &str,
    value: impl Fn(&str) -> Option<&'a str>,
) -> Result<Key, Missing> {
    let need = |field: &'static str| {
        value(field)
            .map(folded)
            .filter(|v| !v.is_empty())
            .ok_or(field)
    };
    // The unit separator cannot be typed in a cell.
    let key = match collection {
        "resident" => format!("resident\u{1f}{}", need("id_number")?.to_uppercase()),
        "household" => format!("household\u{1f}{grid}\u{1f}{}", need("address")?),
        "place" => format!(
            "place\u{1f}{grid}\u{1f}{}\u{1f}{}",
            need("name")?,
            need("address")?
        ),
        _ => return Err("grid"),
    };
    Ok(Key(key))
}

/// Why a row needs its key's fields, for the report.
pub fn why_needed(collection: &str) -> &'static str {
    match collection {
        "resident" => "a resident is matched by ID number: without one a re-import would register them again",
        "household" => "a household is matched by grid and address: without an address a re-import would register it again",
        "place" => "a place is matched by grid, name and address: without them a re-import would register it again",
        _ => "no natural key",
    }
}

/// What a collection's key is made of, in words.
pub fn made_of(collection: &str) -> &'static str {
    match collection {
        "resident" => "ID number",
        "household" => "grid and address",
        "place" => "grid, name and address",
        _ => "key",
    }
}

/// The records known by key: those of the store, and those this import
/// created. A key knows one record (the first found: a second live
/// record with the same key is already a duplicate for a supervisor).
#[derive(Debug, Default)]
pub struct Index {
    known: HashMap<Key, (String, Uuid)>,
}

impl Index {
    /// Know `id` in `grid` by `key`, unless the key is taken.
    pub fn insert(&mut self, key: Key, grid: &str, id: Uuid) {
        self.known
            .entry(key)
            .or_insert_with(|| (grid.to_owned(), id));
    }

    /// The grid and id of the record known by `key`.
    pub fn get(&self, key: &Key) -> Option<(&str, Uuid)> {
        self.known.get(key).map(|(g, id)| (g.as_str(), *id))
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(collection: &str, grid: &str, fields: &[(&str, &'static str)]) -> Result<Key, Missing> {
        let fields = fields.to_vec();
        key_of(collection, grid, move |f| {
            fields.iter().find(|(n, _)| *n == f).map(|(_, v)| *v)
        })
    }

    #[test]
    fn folding_trims_spaces_and_full_width_forms() {
        for (a, b) in [
            ("  幸福路 １２号  ", "幸福路 12号"),
            ("幸福路\u{3000}\u{3000}12号", "幸福路 12号"),
            ("Ａ座\t3单元", "A座 3单元"),
            ("", ""),
        ] {
            assert_eq!(folded(a), b, "{a:?}");
        }
    }

    #[test]
    fn keys_match_what_a_person_sees_as_the_same() {
        let k = |c, g, f: &[(&str, &'static str)]| key(c, g, f).unwrap();
        // Residents: the ID number, in any grid, any case.
        assert_eq!(
            k("resident", "g1", &[("id_number", "11010519491231002x")]),
            k("resident", "g2", &[("id_number", " 11010519491231002X ")]),
        );
        // Households: grid and address.
        let h = k("household", "g1", &[("address", "幸福路１２号")]);
        assert_eq!(h, k("household", "g1", &[("address", " 幸福路12号")]));
        assert_ne!(h, k("household", "g2", &[("address", "幸福路12号")]));
        assert_ne!(h, k("household", "g1", &[("address", "幸福路14号")]));
        // Places: grid, name and address.
        let p = k(
            "place",
            "g1",
            &[("name", "好再来饭店"), ("address", "幸福路12号")],
        );
        assert_eq!(
            p,
            k(
                "place",
                "g1",
                &[("name", "好再来饭店 "), ("address", "幸福路12号")]
            )
        );
        assert_ne!(
            p,
            k(
                "place",
                "g1",
                &[("name", "好再来超市"), ("address", "幸福路12号")]
            )
        );
        // The same text is a different key in another collection.
        assert_ne!(
            h,
            k(
                "place",
                "g1",
                &[("name", "幸福路12号"), ("address", "幸福路12号")]
            )
        );
    }

    #[test]
    fn a_row_without_its_key_says_which_field_is_missing() {
        assert_eq!(key("resident", "g1", &[("name", "张三")]), Err("id_number"));
        assert_eq!(key("household", "g1", &[("address", "  ")]), Err("address"));
        assert_eq!(
            key("place", "g1", &[("address", "幸福路12号")]),
            Err("name")
        );
    }

    #[test]
    fn the_first_record_of_a_key_is_the_one_known() {
        let mut index = Index::default();
        let k = key("household", "g1", &[("address", "幸福路12号")]).unwrap();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        index.insert(k.clone(), "g1", a);
        index.insert(k.clone(), "g1", b);
        assert_eq!(index.get(&k), Some(("g1", a)));
        assert_eq!(index.len(), 1);
    }
}
