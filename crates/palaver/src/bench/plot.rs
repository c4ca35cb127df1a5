//! `--plot FILE.svg`: the report's series as charts, one above the other: latency over time
//! (p50, p99 and max of each second, log scale), the latency distribution (from the send and
//! from the schedule, against percentiles spaced by their nines), and, with `--server-pid`,
//! the server's resident memory and the connected clients over the whole run. Drawn from the
//! report alone, so the JSON holds everything a chart shows.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::{Percentile, Report, Second};

const WIDTH: u32 = 1000;
const CHART_HEIGHT: u32 = 380;
const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A line of a chart: its name in the legend, its color, and its value at a point.
type Line<Point> = (&'static str, RGBColor, fn(&Point) -> f64);

/// How a chart is drawn from a report.
type Chart = fn(&Area, &Report) -> anyhow::Result<()>;

/// Draws the report's charts into an SVG file at `path`: the latency charts if anything was
/// delivered, the memory chart if the server was sampled (a file saying there is nothing to
/// draw if neither).
pub fn write(report: &Report, path: &Path) -> anyhow::Result<()> {
    let mut charts: Vec<Chart> = Vec::new();
    if report.deliveries > 0 {
        charts.extend([latency_over_time as Chart, distribution]);
    }
    if report
        .resources
        .iter()
        .any(|sample| sample.server_rss_bytes.is_some())
    {
        charts.push(memory_over_time);
    }
    let height = CHART_HEIGHT * charts.len().max(1) as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    if charts.is_empty() {
        nothing_to_draw(&root, "No deliveries and no --server-pid")?;
    }
    let areas = root.split_evenly((charts.len().max(1), 1));
    for (chart, area) in charts.iter().zip(&areas) {
        chart(area, report)?;
    }
    root.present()?;
    Ok(())
}

fn latency_over_time(area: &Area, report: &Report) -> anyhow::Result<()> {
    let seconds: Vec<&Second> = report
        .per_second
        .iter()
        .filter(|second| second.deliveries > 0)
        .collect();
    let end = seconds.last().map_or(0.0, |last| last.t_s + 1.0);
    latency_chart(
        area,
        LatencyChart {
            title: "Latency over time (from the send; each second of receipt)",
            x_desc: "seconds since the run began",
            x_range: report.window_start_s..end,
            x_labels: 10,
            x_label: format_seconds,
            points: &seconds,
            x: |second| second.t_s + 0.5,
            lines: &[
                ("p50", BLUE, |second| second.p50_ms),
                ("p99", RGBColor(230, 120, 0), |second| second.p99_ms),
                ("max", RED, |second| second.max_ms),
            ],
        },
    )
}

fn distribution(area: &Area, report: &Report) -> anyhow::Result<()> {
    let points: Vec<&Percentile> = report.distribution.iter().collect();
    let most_nines = points
        .last()
        .map_or(1.0, |last| nines(last.percentile).max(1.0));
    latency_chart(
        area,
        LatencyChart {
            title: "Latency distribution",
            x_desc: "percentile",
            x_range: 0.0..most_nines,
            x_labels: most_nines.floor() as usize + 1,
            x_label: format_percentile,
            points: &points,
            x: |point| nines(point.percentile),
            lines: &[
                ("from the send", BLUE, |point| point.latency_ms),
                ("from the schedule", RED, |point| point.schedule_latency_ms),
            ],
        },
    )
}

/// A chart of latencies (log scale, in milliseconds) against something.
struct LatencyChart<'a, Point> {
    title: &'a str,
    x_desc: &'a str,
    x_range: Range<f64>,
    /// About how many labels the x axis gets, and how each reads.
    x_labels: usize,
    x_label: fn(f64) -> String,
    points: &'a [&'a Point],
    /// A point's place on the x axis.
    x: fn(&Point) -> f64,
    lines: &'a [Line<Point>],
}

fn latency_chart<Point>(area: &Area, chart: LatencyChart<'_, Point>) -> anyhow::Result<()> {
    if chart.points.is_empty() {
        let words = format!("{}: no deliveries measured", chart.title);
        return nothing_to_draw(area, &words);
    }
    let latencies = chart
        .points
        .iter()
        .flat_map(|point| chart.lines.iter().map(|(_, _, value)| value(point)));
    let mut drawing = ChartBuilder::on(area)
        .caption(chart.title, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(chart.x_range, log_range(latencies).log_scale())?;
    drawing
        .configure_mesh()
        .x_desc(chart.x_desc)
        .y_desc("latency (ms)")
        .x_labels(chart.x_labels)
        .y_labels(12)
        .x_label_formatter(&|x| (chart.x_label)(*x))
        .y_label_formatter(&|ms| format_ms(*ms))
        .draw()?;
    for &(name, color, value) in chart.lines {
        let line = chart
            .points
            .iter()
            .map(|point| ((chart.x)(point), value(point)));
        drawing
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(name)
            .legend(legend_mark(color.stroke_width(2)));
    }
    drawing
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

/// A series' mark in the legend: a short line in the series' style.
fn legend_mark(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style)
}

/// How many nines a percentile has: 90% → 1, 99% → 2, 99.9% → 3.
fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

fn memory_over_time(area: &Area, report: &Report) -> anyhow::Result<()> {
    let samples: Vec<(f64, f64, f64)> = report
        .resources
        .iter()
        .filter_map(|sample| {
            let rss = sample.server_rss_bytes? as f64 / (1024.0 * 1024.0);
            Some((sample.t_s, rss, sample.connected as f64))
        })
        .collect();
    let end = samples.last().map_or(1.0, |sample| sample.0.max(1.0));
    let most_rss = samples.iter().map(|sample| sample.1).fold(1.0, f64::max) * 1.1;
    let most_clients = report.clients as f64 * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption("Server memory and connected clients", (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..end, 0.0..most_rss)?
        .set_secondary_coord(0.0..end, 0.0..most_clients);
    chart
        .configure_mesh()
        .x_desc("seconds since the run began")
        .y_desc("server RSS (MiB)")
        .x_label_formatter(&|t| format_seconds(*t))
        .y_label_formatter(&|mib| format!("{mib:.0}"))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("connected clients")
        .y_label_formatter(&|clients| format!("{clients:.0}"))
        .draw()?;
    let purple = RGBColor(120, 40, 160);
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|&(t, rss, _)| (t, rss)),
            purple.stroke_width(2),
        ))?
        .label("server RSS (MiB)")
        .legend(legend_mark(purple.stroke_width(2)));
    let grey = RGBColor(90, 90, 90);
    chart
        .draw_secondary_series(LineSeries::new(
            samples.iter().map(|&(t, _, clients)| (t, clients)),
            grey.stroke_width(1),
        ))?
        .label("connected clients")
        .legend(legend_mark(grey.stroke_width(1)));
    // The measured window, between two lines.
    let window = [report.window_start_s, report.window_end_s];
    let green = RGBColor(0, 150, 0);
    chart
        .draw_series(
            window.map(|t| PathElement::new([(t, 0.0), (t, most_rss)], green.stroke_width(1))),
        )?
        .label("measured window")
        .legend(legend_mark(green.stroke_width(1)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

/// A chart's place with a word that there is nothing to show.
fn nothing_to_draw(area: &Area, words: &str) -> anyhow::Result<()> {
    let (width, height) = area.dim_in_pixel();
    area.draw(&Text::new(
        words.to_owned(),
        (width as i32 / 2 - 150, height as i32 / 2),
        (FONT, 16),
    ))?;
    Ok(())
}

/// A log-scale range holding every value (at least a microsecond), widened to whole decades
/// so that the axis is labelled at 0.1, 1, 10, … ms.
fn log_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (low, high) = values.fold((f64::MAX, 0.0f64), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    let low = 10f64.powf(low.max(0.001).log10().floor());
    let high = 10f64.powf(high.max(low * 10.0).log10().ceil());
    low..high
}

fn format_ms(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

fn format_seconds(seconds: f64) -> String {
    let text = format!("{seconds:.1}");
    text.strip_suffix(".0").unwrap_or(&text).to_owned()
}

/// A percentile from its nines: 0 → 0%, 1 → 90%, 2 → 99%, 3 → 99.9%, 7 → 99.99999%.
fn format_percentile(nines: f64) -> String {
    let percentile = 100.0 * (1.0 - 10f64.powf(-nines));
    let decimals = (nines.ceil() as usize).saturating_sub(2) + 1;
    let text = format!("{percentile:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_read_as_people_write_them() {
        assert_eq!(format_percentile(0.0), "0%");
        assert_eq!(format_percentile(1.0), "90%");
        assert_eq!(format_percentile(3.0), "99.9%");
        assert_eq!(format_percentile(7.0), "99.99999%");
        assert_eq!(format_ms(0.25), "0.25");
        assert_eq!(format_ms(12.4), "12");
        assert_eq!(format_seconds(3.0), "3");
        assert_eq!(format_seconds(1.25), "1.2");
    }
}
