//! Tables, as in `migrations/*/…_init/up.sql` (the same on both backends).

diesel::table! {
    records (id) {
        id -> Text,
        collection -> Text,
        grid -> Text,
        state -> Text,
        status -> Nullable<Text>,
        level -> Text,
        category -> Nullable<Text>,
        assignee -> Nullable<Text>,
        deadline -> Nullable<BigInt>,
        deleted -> Bool,
        conflicts -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        last_seq -> BigInt,
    }
}

diesel::table! {
    changes (seq) {
        seq -> BigInt,
        record_id -> Text,
        grid -> Text,
        actor -> BigInt,
        actor_seq -> BigInt,
        batch_id -> Text,
        received_at -> BigInt,
        body -> Text,
    }
}

diesel::table! {
    actors (actor) {
        actor -> BigInt,
        max_seq -> BigInt,
        last_sync_at -> BigInt,
    }
}

diesel::table! {
    quarantine (id) {
        id -> BigInt,
        actor -> Nullable<BigInt>,
        actor_seq -> Nullable<BigInt>,
        record_id -> Nullable<Text>,
        grid -> Nullable<Text>,
        batch_id -> Text,
        received_at -> BigInt,
        code -> Text,
        message -> Text,
        body -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(records, changes, actors, quarantine);
