//! Inline SVG charts: overlaid histograms, grouped bars, line charts and a time axis.
//!
//! Every chart has labelled axes with tick values, a legend naming each series and a title
//! line; coordinates are written with a fixed number of decimals so the same input gives the
//! same bytes.

use super::html::{esc, fmt_num};
use std::fmt::Write as _;

/// Reference series colour (blue).
pub(crate) const BLUE: &str = "#1f6fb4";
/// Current / challenger series colour (orange).
pub(crate) const ORANGE: &str = "#e3770b";
/// A third series (green).
pub(crate) const GREEN: &str = "#2b8a3e";
/// Alert / failure colour.
pub(crate) const RED: &str = "#c92a2a";
/// Neutral grey.
pub(crate) const GREY: &str = "#868e96";

/// Plot geometry shared by the charts.
pub(crate) struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub(crate) fn standard() -> Self {
        Frame {
            width: 460.0,
            height: 260.0,
            left: 56.0,
            right: 12.0,
            top: 30.0,
            bottom: 46.0,
        }
    }
    fn plot_w(&self) -> f64 {
        self.width - self.left - self.right
    }
    fn plot_h(&self) -> f64 {
        self.height - self.top - self.bottom
    }
    fn x(&self, t: f64) -> f64 {
        self.left + t * self.plot_w()
    }
    fn y(&self, t: f64) -> f64 {
        self.top + (1.0 - t) * self.plot_h()
    }
}

/// Round tick values covering `[lo, hi]` (about `n` of them).
pub(crate) fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let mut out = Vec::new();
    let mut i = 0.0;
    while first + i * step <= hi + step * 1e-9 && out.len() < 50 {
        let v = first + i * step;
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        i += 1.0;
    }
    out
}

fn open(s: &mut String, f: &Frame, title: &str) {
    let _ = write!(
        s,
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\">\
         <title>{t}</title><rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>",
        w = f.width,
        h = f.height,
        t = esc(title)
    );
}

/// Axes, grid lines, tick labels and axis titles. `xt` / `yt`: (position in 0..1, label).
fn axes(s: &mut String, f: &Frame, xt: &[(f64, String)], yt: &[(f64, String)], xl: &str, yl: &str) {
    for (t, label) in yt {
        let y = f.y(*t);
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e9ecef\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text>",
            f.left,
            f.width - f.right,
            f.left - 4.0,
            y + 3.5,
            esc(label)
        );
    }
    for (t, label) in xt {
        let x = f.x(*t);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#495057\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            f.y(0.0),
            f.y(0.0) + 4.0,
            f.y(0.0) + 15.0,
            esc(label)
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{l:.1}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\" stroke=\"#495057\"/>\
         <line x1=\"{l:.1}\" y1=\"{t:.1}\" x2=\"{l:.1}\" y2=\"{b:.1}\" stroke=\"#495057\"/>\
         <text x=\"{cx:.1}\" y=\"{xly:.1}\" class=\"axis\" text-anchor=\"middle\">{xl}</text>\
         <text x=\"12\" y=\"{cy:.1}\" class=\"axis\" text-anchor=\"middle\" transform=\"rotate(-90 12 {cy:.1})\">{yl}</text>",
        l = f.left,
        r = f.width - f.right,
        t = f.top,
        b = f.y(0.0),
        cx = f.left + f.plot_w() / 2.0,
        xly = f.height - 8.0,
        cy = f.top + f.plot_h() / 2.0,
        xl = esc(xl),
        yl = esc(yl)
    );
}

/// A legend in the top margin: one swatch and name per series.
fn legend(s: &mut String, f: &Frame, series: &[(&str, &str)]) {
    let mut x = f.left;
    for (name, colour) in series {
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"10\" width=\"12\" height=\"10\" fill=\"{colour}\" fill-opacity=\"0.7\"/>\
             <text x=\"{:.1}\" y=\"19\" class=\"legend\">{}</text>",
            x + 16.0,
            esc(name)
        );
        x += 28.0 + 6.5 * name.chars().count() as f64;
    }
}

fn y_ticks_pct(max: f64) -> (f64, Vec<(f64, String)>) {
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let t = ticks(0.0, top, 4)
        .into_iter()
        .map(|v| (v / top, format!("{}%", fmt_num(v))))
        .collect();
    (top, t)
}

/// Overlaid histograms of two samples on shared bin `edges` (`edges.len() = bins + 1`);
/// heights are the share of each sample's values in the bin, in percent.
pub(crate) fn overlaid_histogram(
    title: &str,
    x_label: &str,
    edges: &[f64],
    series: [(&str, &str, &[f64]); 2],
) -> String {
    let f = Frame::standard();
    let mut s = String::new();
    open(&mut s, &f, title);
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let (top, yt) = y_ticks_pct(max);
    let (lo, hi) = match (edges.first(), edges.last()) {
        (Some(a), Some(b)) if b > a => (*a, *b),
        (Some(a), _) => (*a - 0.5, *a + 0.5),
        _ => (0.0, 1.0),
    };
    let xt: Vec<(f64, String)> = ticks(lo, hi, 5)
        .into_iter()
        .map(|v| ((v - lo) / (hi - lo), fmt_num(v)))
        .collect();
    axes(&mut s, &f, &xt, &yt, x_label, "share of rows (%)");
    for (_, colour, heights) in &series {
        for (i, h) in heights.iter().enumerate() {
            let (Some(a), Some(b)) = (edges.get(i), edges.get(i + 1)) else {
                continue;
            };
            let (x0, x1) = (f.x((a - lo) / (hi - lo)), f.x((b - lo) / (hi - lo)));
            let (y0, y1) = (f.y(h / top), f.y(0.0));
            if h > &0.0 {
                let _ = write!(
                    s,
                    "<rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" fill-opacity=\"0.5\"/>",
                    (x1 - x0).max(0.5),
                    y1 - y0
                );
            }
        }
    }
    legend(
        &mut s,
        &f,
        &[(series[0].0, series[0].1), (series[1].0, series[1].1)],
    );
    s.push_str("</svg>");
    s
}

/// Bars of two samples side by side per category; heights in percent of each sample.
pub(crate) fn grouped_bars(
    title: &str,
    x_label: &str,
    categories: &[String],
    series: [(&str, &str, &[f64]); 2],
) -> String {
    let mut f = Frame::standard();
    f.bottom = 62.0;
    f.height = 276.0;
    let mut s = String::new();
    open(&mut s, &f, title);
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let (top, yt) = y_ticks_pct(max);
    axes(&mut s, &f, &[], &yt, x_label, "share of rows (%)");
    let n = categories.len().max(1) as f64;
    let slot = 1.0 / n;
    for (i, cat) in categories.iter().enumerate() {
        for (k, (_, colour, heights)) in series.iter().enumerate() {
            let h = heights.get(i).copied().unwrap_or(0.0);
            let x0 = f.x(slot * (i as f64 + 0.1 + 0.4 * k as f64));
            let x1 = f.x(slot * (i as f64 + 0.1 + 0.4 * (k as f64 + 1.0)));
            let (y0, y1) = (f.y(h / top), f.y(0.0));
            let _ = write!(
                s,
                "<rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" fill-opacity=\"0.75\"/>",
                (x1 - x0).max(0.5),
                y1 - y0
            );
        }
        let label: String = if cat.chars().count() > 16 {
            cat.chars().take(15).chain(['…']).collect()
        } else {
            cat.clone()
        };
        let x = f.x(slot * (i as f64 + 0.5));
        let y = f.y(0.0) + 12.0;
        let _ = write!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" class=\"tick\" text-anchor=\"end\" transform=\"rotate(-35 {x:.1} {y:.1})\">{}<title>{}</title></text>",
            esc(&label),
            esc(cat)
        );
    }
    legend(
        &mut s,
        &f,
        &[(series[0].0, series[0].1), (series[1].0, series[1].1)],
    );
    s.push_str("</svg>");
    s
}

/// A line series: name, colour, points.
pub(crate) type Series<'a> = (&'a str, &'a str, &'a [(f64, f64)]);

/// Lines on a `[0, 1] × [0, 1]` plot (ROC, precision–recall, calibration), with an optional
/// dashed diagonal as the chance line.
pub(crate) fn unit_lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    diagonal: bool,
) -> String {
    let f = Frame::standard();
    let mut s = String::new();
    open(&mut s, &f, title);
    let t: Vec<(f64, String)> = [0.0, 0.25, 0.5, 0.75, 1.0]
        .iter()
        .map(|v| (*v, fmt_num(*v)))
        .collect();
    axes(&mut s, &f, &t, &t, x_label, y_label);
    if diagonal {
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{GREY}\" stroke-dasharray=\"4 3\"/>",
            f.x(0.0),
            f.y(0.0),
            f.x(1.0),
            f.y(1.0)
        );
    }
    for (_, colour, pts) in series {
        if pts.is_empty() {
            continue;
        }
        s.push_str("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"");
        s.push_str(colour);
        s.push_str("\" points=\"");
        for (i, (x, y)) in pts.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(
                s,
                "{:.1},{:.1}",
                f.x(x.clamp(0.0, 1.0)),
                f.y(y.clamp(0.0, 1.0))
            );
        }
        s.push_str("\"/>");
    }
    let names: Vec<(&str, &str)> = series.iter().map(|(n, c, _)| (*n, *c)).collect();
    legend(&mut s, &f, &names);
    s.push_str("</svg>");
    s
}

/// One mark on a time axis: position in `[0, 1]`, lane, colour, hover text.
pub(crate) struct Mark {
    pub t: f64,
    pub lane: usize,
    pub colour: &'static str,
    pub text: String,
}

/// A time axis with one lane per name; marks are dots, hover shows their text.
/// `x_ticks`: (position in 0..1, date label).
pub(crate) fn time_lanes(
    title: &str,
    lanes: &[&str],
    x_ticks: &[(f64, String)],
    marks: &[Mark],
) -> String {
    let lane_h = 28.0;
    let f = Frame {
        width: 960.0,
        height: 40.0 + 46.0 + lane_h * lanes.len() as f64,
        left: 130.0,
        right: 44.0,
        top: 30.0,
        bottom: 46.0,
    };
    let mut s = String::new();
    open(&mut s, &f, title);
    let plot_h = f.height - f.top - f.bottom;
    for (i, name) in lanes.iter().enumerate() {
        let y = f.top + lane_h * (i as f64 + 0.5);
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e9ecef\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text>",
            f.left,
            f.width - f.right,
            f.left - 6.0,
            y + 4.0,
            esc(name)
        );
    }
    let b = f.top + plot_h;
    for (t, label) in x_ticks {
        let x = f.x(*t);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#dee2e6\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            f.top,
            b + 4.0,
            b + 16.0,
            esc(label)
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{l:.1}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\" stroke=\"#495057\"/>\
         <text x=\"{cx:.1}\" y=\"{xly:.1}\" class=\"axis\" text-anchor=\"middle\">time (UTC)</text>",
        l = f.left,
        r = f.width - f.right,
        cx = f.left + (f.width - f.left - f.right) / 2.0,
        xly = f.height - 8.0,
    );
    for m in marks {
        let x = f.x(m.t.clamp(0.0, 1.0));
        let y = f.top + lane_h * (m.lane as f64 + 0.5);
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{}\" fill-opacity=\"0.8\"><title>{}</title></circle>",
            m.colour,
            esc(&m.text)
        );
    }
    s.push_str("</svg>");
    s
}

/// Values in `[0, 1]` over time, drawn as percent: one dot per point (position in 0..1,
/// value, colour) joined by a grey line; x ticks as [`time_lanes`] so the two charts align.
pub(crate) fn time_series(
    title: &str,
    y_label: &str,
    x_ticks: &[(f64, String)],
    points: &[(f64, f64, &str)],
) -> String {
    let f = Frame {
        width: 960.0,
        height: 220.0,
        left: 130.0,
        right: 44.0,
        top: 30.0,
        bottom: 46.0,
    };
    let mut s = String::new();
    open(&mut s, &f, title);
    let yt: Vec<(f64, String)> = [0.0, 0.25, 0.5, 0.75, 1.0]
        .iter()
        .map(|v| (*v, format!("{}%", fmt_num(100.0 * v))))
        .collect();
    axes(&mut s, &f, x_ticks, &yt, "time (UTC)", "");
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"18\" class=\"legend\">{}</text>",
        f.left,
        esc(y_label)
    );
    s.push_str("<polyline fill=\"none\" stroke=\"#adb5bd\" points=\"");
    for (i, (t, v, _)) in points.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{:.1},{:.1}", f.x(*t), f.y(v.clamp(0.0, 1.0)));
    }
    s.push_str("\"/>");
    for (t, v, colour) in points {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"><title>{}</title></circle>",
            f.x(*t),
            f.y(v.clamp(0.0, 1.0)),
            pct_label(*v)
        );
    }
    s.push_str("</svg>");
    s
}

/// One line of [`time_lines`]: name (legend), colour, points (position in 0..1, value).
pub(crate) type TimeLine<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// Lines over time on one y axis from 0 to the largest value (`[0, 1]` drawn as percent when
/// `percent`), with a legend naming each line, a dot per point (hover shows the value with
/// `unit`) and x ticks as [`time_lanes`]. Non-finite values are left out.
pub(crate) fn time_lines(
    title: &str,
    y_label: &str,
    unit: &str,
    x_ticks: &[(f64, String)],
    lines: &[TimeLine<'_>],
    percent: bool,
) -> String {
    let f = Frame {
        width: 960.0,
        height: 240.0,
        left: 70.0,
        right: 44.0,
        top: 30.0,
        bottom: 46.0,
    };
    let mut s = String::new();
    open(&mut s, &f, title);
    let max = lines
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|(_, v)| *v))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let top = if percent {
        if max > 0.5 {
            1.0
        } else {
            (max * 1.25).max(0.05)
        }
    } else if max > 0.0 {
        max * 1.1
    } else {
        1.0
    };
    let yt: Vec<(f64, String)> = ticks(0.0, top, 4)
        .into_iter()
        .map(|v| {
            (
                v / top,
                if percent {
                    format!("{}%", fmt_num(100.0 * v))
                } else {
                    fmt_num(v)
                },
            )
        })
        .collect();
    axes(&mut s, &f, x_ticks, &yt, "time (UTC)", y_label);
    for (_, colour, pts) in lines {
        let pts: Vec<&(f64, f64)> = pts.iter().filter(|(_, v)| v.is_finite()).collect();
        if pts.len() > 1 {
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"{colour}\" points=\""
            );
            for (i, (t, v)) in pts.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                let _ = write!(s, "{:.1},{:.1}", f.x(*t), f.y((v / top).clamp(0.0, 1.0)));
            }
            s.push_str("\"/>");
        }
        for (t, v) in pts {
            let label = if percent {
                pct_label(*v)
            } else {
                format!("{}{unit}", fmt_num(*v))
            };
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\"><title>{}</title></circle>",
                f.x(*t),
                f.y((v / top).clamp(0.0, 1.0)),
                esc(&label)
            );
        }
    }
    let names: Vec<(&str, &str)> = lines.iter().map(|(n, c, _)| (*n, *c)).collect();
    legend(&mut s, &f, &names);
    s.push_str("</svg>");
    s
}

fn pct_label(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let t = ticks(3.2, 97.0, 5);
        assert_eq!(t.first(), Some(&20.0));
        assert!(t.iter().all(|v| *v >= 3.2 && *v <= 97.0));
        assert_eq!(ticks(5.0, 5.0, 4), vec![5.0]);
    }

    #[test]
    fn a_histogram_has_axes_legend_and_bars() {
        let s = overlaid_histogram(
            "age",
            "age",
            &[0.0, 1.0, 2.0],
            [
                ("reference", BLUE, &[50.0, 50.0]),
                ("current", ORANGE, &[10.0, 90.0]),
            ],
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("share of rows (%)"));
        assert!(s.contains(">reference<") && s.contains(">current<"));
        assert_eq!(s.matches("<rect x=").count(), 4 + 2);
    }
}
