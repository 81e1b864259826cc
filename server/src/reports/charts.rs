//! The dashboard's charts as SVG, drawn on the server with plotters: a value
//! axis with gridlines, a value on every bar or point, and category labels
//! that do not overlap (horizontal bars, one row per node, the node's full
//! name). Text stays SVG text, so the browser's fonts draw the Chinese and
//! nothing is loaded from outside. Pure: data in, an SVG document out.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One bar: its category label and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
}

/// A horizontal bar chart: one row per bar, top to bottom in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    pub title: String,
    /// What the value axis counts.
    pub axis: String,
    pub bars: Vec<Bar>,
    /// Values are percentages (the axis runs to 100).
    pub percent: bool,
    /// Shown when there are no bars.
    pub empty: String,
}

/// A line of a trend chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

/// A trend: counts per period bucket, one line per series.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub title: String,
    pub axis: String,
    pub buckets: Vec<String>,
    pub series: Vec<Series>,
}

const WIDTH: u32 = 760;
const ROW: u32 = 30;
const FONT: &str = "sans-serif";
const LABEL_SIZE: u32 = 13;
/// Beyond this many buckets a trend's points carry no value labels (they
/// would touch); the axis and gridlines still read.
pub const MAX_LABELLED_POINTS: usize = 16;
const COLORS: [RGBColor; 3] = [
    RGBColor(0x25, 0x63, 0xeb),
    RGBColor(0x16, 0xa3, 0x4a),
    RGBColor(0xdc, 0x26, 0x26),
];
const GRID_LIGHT: RGBColor = RGBColor(0xee, 0xf0, 0xf3);
const GRID_BOLD: RGBColor = RGBColor(0xcf, 0xd4, 0xdc);
const INK: RGBColor = RGBColor(0x1f, 0x29, 0x37);

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("chart: {e}")
}

/// About how wide `text` is at `size` px: CJK glyphs are an em, others
/// about six tenths of one.
pub fn text_width(text: &str, size: u32) -> u32 {
    text.chars()
        .map(|c| if c.is_ascii() { size * 6 / 10 } else { size })
        .sum()
}

/// The top of a value axis holding `max`: 1, 2 or 5 times a power of ten,
/// at least 5% above `max`; 100 for percentages.
pub fn axis_top(max: f64, percent: bool) -> f64 {
    if percent {
        return 100.0;
    }
    let want = (max * 1.05).max(1.0);
    let mut step = 10f64.powf(want.log10().floor());
    loop {
        for m in [1.0, 2.0, 5.0, 10.0] {
            if step * m >= want {
                return step * m;
            }
        }
        step *= 10.0;
    }
}

/// A value as a label: whole numbers without decimals, others with one.
pub fn number(v: f64, percent: bool) -> String {
    let s = if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    };
    if percent {
        format!("{s}%")
    } else {
        s
    }
}

/// How many labels a value axis from 0 to `top` gets: whole steps for
/// small counts (no `0.5` of a case), six otherwise.
fn value_labels(top: f64, percent: bool) -> usize {
    if !percent && top <= 10.0 {
        top as usize + 1
    } else {
        6
    }
}

/// A horizontal bar chart, `WIDTH` wide and one `ROW` per bar high.
pub fn bars_svg(b: &Bars) -> Result<String, String> {
    let n = b.bars.len();
    let rows = n.max(1) as u32;
    let height = 110 + ROW * rows;
    let label_area = b
        .bars
        .iter()
        .map(|x| text_width(&x.label, LABEL_SIZE))
        .max()
        .unwrap_or(40)
        .clamp(40, 340)
        + 14;
    let max = b.bars.iter().map(|x| x.value).fold(0.0, f64::max);
    let top = axis_top(max, b.percent);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&b.title, (FONT, 18).into_font().color(&INK))
            .margin(12)
            .margin_right(56)
            .x_label_area_size(44)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0f64..top, (0..rows as i32).into_segmented())
            .map_err(err)?;
        let label_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(y) if (*y as usize) < n => {
                b.bars[n - 1 - *y as usize].label.clone()
            }
            _ => String::new(),
        };
        let percent = b.percent;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows as usize)
            .y_label_formatter(&label_of)
            .x_labels(value_labels(top, percent))
            .x_label_formatter(&|v| number(*v, percent))
            .x_desc(b.axis.as_str())
            .label_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .axis_desc_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .light_line_style(GRID_LIGHT)
            .bold_line_style(GRID_BOLD)
            .draw()
            .map_err(err)?;
        let at = |i: usize| (n - 1 - i) as i32;
        chart
            .draw_series(b.bars.iter().enumerate().map(|(i, bar)| {
                let mut r = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(at(i))),
                        (bar.value.max(0.0), SegmentValue::Exact(at(i) + 1)),
                    ],
                    COLORS[0].filled(),
                );
                r.set_margin(6, 6, 0, 0);
                r
            }))
            .map_err(err)?;
        let value_style = (FONT, 12)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        chart
            .draw_series(b.bars.iter().enumerate().map(|(i, bar)| {
                EmptyElement::at((bar.value.max(0.0), SegmentValue::CenterOf(at(i))))
                    + Text::new(number(bar.value, percent), (5, 0), value_style.clone())
            }))
            .map_err(err)?;
        if n == 0 {
            let style = (FONT, 14)
                .into_font()
                .color(&INK)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(
                b.empty.as_str(),
                (WIDTH as i32 / 2, height as i32 / 2),
                style,
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A trend chart: a line per series over the buckets, with a legend; each
/// point labelled with its value up to [`MAX_LABELLED_POINTS`] buckets.
pub fn trend_svg(t: &Trend) -> Result<String, String> {
    let n = t.buckets.len().max(1);
    let height = 380;
    let max = t
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let top = axis_top(max as f64, false);
    // Labels thinned so that they never touch: about one per 70 px.
    let every = (n * 70).div_ceil(WIDTH as usize - 120).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&t.title, (FONT, 18).into_font().color(&INK))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((0..n as i32).into_segmented(), 0f64..top)
            .map_err(err)?;
        let label_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(x) if (*x as usize) < t.buckets.len() => {
                if (*x as usize).is_multiple_of(every) {
                    t.buckets[*x as usize].clone()
                } else {
                    String::new()
                }
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label_of)
            .y_labels(value_labels(top, false))
            .y_label_formatter(&|v| number(*v, false))
            .y_desc(t.axis.as_str())
            .label_style((FONT, 12).into_font().color(&INK))
            .axis_desc_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .light_line_style(GRID_LIGHT)
            .bold_line_style(GRID_BOLD)
            .draw()
            .map_err(err)?;
        let labelled = t.buckets.len() <= MAX_LABELLED_POINTS;
        for (k, s) in t.series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let points: Vec<(SegmentValue<i32>, f64)> = s
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| (SegmentValue::CenterOf(i as i32), *v as f64))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                });
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new(p.clone(), 3, color.filled())),
                )
                .map_err(err)?;
            if labelled {
                // Each series' labels sit at its own height above the point.
                let dy = -8 - 13 * k as i32;
                let style = (FONT, 11)
                    .into_font()
                    .color(&color)
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series(s.values.iter().enumerate().map(|(i, v)| {
                        EmptyElement::at((SegmentValue::CenterOf(i as i32), *v as f64))
                            + Text::new(v.to_string(), (0, dy), style.clone())
                    }))
                    .map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID_BOLD)
            .label_font((FONT, 12).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts of an SVG document with their `y`, in order.
    fn placed(svg: &str) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find("<text") {
            rest = &rest[i..];
            let open = rest.find('>').unwrap();
            let close = rest.find("</text>").unwrap();
            let y = rest[..open].split(" y=\"").nth(1).unwrap();
            let y = y[..y.find('"').unwrap()].parse().unwrap();
            let text = rest[open + 1..close]
                .trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            out.push((text, y));
            rest = &rest[close..];
        }
        out
    }

    fn texts(svg: &str) -> Vec<String> {
        placed(svg).into_iter().map(|(t, _)| t).collect()
    }

    fn grids(n: usize) -> Bars {
        Bars {
            title: "光谷街道 在办".into(),
            axis: "在办".into(),
            bars: (1..=n)
                .map(|i| Bar {
                    label: format!("关山社区第{i}网格"),
                    value: i as f64,
                })
                .collect(),
            percent: false,
            empty: "无数据".into(),
        }
    }

    #[test]
    fn axis_tops_are_round() {
        let t: Vec<f64> = [0.0, 1.0, 3.0, 9.6, 10.0, 19.0, 95.0, 480.0, 1001.0]
            .iter()
            .map(|m| axis_top(*m, false))
            .collect();
        assert_eq!(t, [1.0, 2.0, 5.0, 20.0, 20.0, 20.0, 100.0, 1000.0, 2000.0]);
        assert_eq!(axis_top(37.5, true), 100.0);
        assert_eq!(number(3.0, false), "3");
        assert_eq!(number(66.666, true), "66.7%");
    }

    #[test]
    fn bars_carry_every_name_value_and_axis() {
        let svg = bars_svg(&grids(15)).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        let t = texts(&svg);
        for i in 1..=15 {
            // Every grid by its full name, and its value on its bar.
            assert_eq!(
                t.iter()
                    .filter(|x| **x == format!("关山社区第{i}网格"))
                    .count(),
                1,
                "{t:?}"
            );
            assert!(t.contains(&i.to_string()), "{i} in {t:?}");
        }
        assert!(t.contains(&"光谷街道 在办".to_owned()));
        assert!(t.contains(&"在办".to_owned()));
        // The value axis: 0 to 20 in round steps, with gridlines.
        assert!(t.contains(&"0".to_owned()) && t.contains(&"20".to_owned()));
        assert!(svg.matches("<line").count() + svg.matches("<polyline").count() > 5);
        // One row per grid: the rows do not overlap.
        assert!(svg.contains(&format!("height=\"{}\"", 110 + 15 * ROW)));
    }

    #[test]
    fn rows_are_top_to_bottom_in_order() {
        let svg = bars_svg(&grids(3)).unwrap();
        let p = placed(&svg);
        let y_of = |label: &str| -> i32 { p.iter().find(|(t, _)| t == label).unwrap().1 };
        assert!(y_of("关山社区第1网格") < y_of("关山社区第2网格"));
        assert!(y_of("关山社区第2网格") < y_of("关山社区第3网格"));
    }

    #[test]
    fn labels_are_escaped_and_empty_charts_say_so() {
        let mut b = grids(1);
        b.bars[0].label = "A&B <网格>".into();
        let svg = bars_svg(&b).unwrap();
        assert!(svg.contains("A&amp;B &lt;网格&gt;"), "{svg}");
        assert!(texts(&svg).contains(&"A&B <网格>".to_owned()));
        let mut e = grids(0);
        e.percent = true;
        let svg = bars_svg(&e).unwrap();
        assert!(texts(&svg).contains(&"无数据".to_owned()));
        assert!(texts(&svg).contains(&"100%".to_owned()));
    }

    #[test]
    fn trends_have_a_legend_values_and_dates() {
        let t = Trend {
            title: "趋势".into(),
            axis: "件数".into(),
            buckets: vec!["11-09".into(), "11-10".into(), "11-11".into()],
            series: vec![
                Series {
                    name: "上报".into(),
                    values: vec![4, 0, 7],
                },
                Series {
                    name: "办结".into(),
                    values: vec![1, 2, 3],
                },
            ],
        };
        let svg = trend_svg(&t).unwrap();
        let x = texts(&svg);
        for want in [
            "趋势", "件数", "上报", "办结", "11-09", "11-10", "11-11", "4", "7", "3",
        ] {
            assert!(x.contains(&want.to_owned()), "{want} in {x:?}");
        }
        assert!(svg.contains("<polyline"));
        // Many buckets: labels thinned, no value labels.
        let long = Trend {
            buckets: (1..=60).map(|i| format!("d{i}")).collect(),
            series: vec![Series {
                name: "上报".into(),
                values: vec![5; 60],
            }],
            ..t
        };
        let x = texts(&trend_svg(&long).unwrap());
        assert!(x.contains(&"d1".to_owned()));
        assert!(!x.contains(&"d2".to_owned()));
        // "5" once: the value axis (0 to 10), none on the 60 points.
        assert_eq!(x.iter().filter(|s| *s == "5").count(), 1, "{x:?}");
    }
}
