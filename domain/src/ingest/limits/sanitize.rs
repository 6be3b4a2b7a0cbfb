//! Caps on a decoded request, in the manner of the OpenTelemetry SDK's span limits: what is
//! over a cap is dropped and counted (rejected spans in `partial_success`, dropped attributes,
//! events and links on the span), and an over-long value is cut at a character boundary and
//! marked, so a reader sees that it was.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use super::{
    MAX_ARRAY_ITEMS, MAX_ATTRIBUTES, MAX_EVENTS, MAX_LINKS, MAX_MESSAGE_BYTES, MAX_RESOURCES,
    MAX_SPANS, MAX_VALUE_BYTES,
};

/// Attributes whose values are conversations or tool payloads: kept longer.
pub const LONG_VALUE_KEYS: [&str; 8] = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.tool.definitions",
];

/// What the caps took away from a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Spans (or data points) dropped whole: over [`MAX_SPANS`] or under a resource over
    /// [`MAX_RESOURCES`].
    pub dropped_items: usize,
    /// Attribute values cut short.
    pub truncated_values: usize,
}

impl Trimmed {
    /// The reason a dropped span or point is given.
    pub fn reason(what: &str) -> String {
        format!(
            "over the limits of one request ({MAX_SPANS} {what}, {MAX_RESOURCES} resources); \
             send smaller batches"
        )
    }
}

/// `text` cut to at most `max` bytes at a character boundary, with a marker saying how much
/// was cut; `None` when it fits.
pub fn truncate(text: &str, max: usize) -> Option<String> {
    if text.len() <= max {
        return None;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!(
        "{}…[truncated {} bytes]",
        &text[..end],
        text.len() - end
    ))
}

fn cap_value(value: &mut AnyValue, max: usize, trimmed: &mut Trimmed) {
    match &mut value.value {
        Some(Value::StringValue(s)) => {
            if let Some(short) = truncate(s, max) {
                *s = short;
                trimmed.truncated_values += 1;
            }
        }
        Some(Value::BytesValue(b)) if b.len() > max => {
            b.truncate(max);
            trimmed.truncated_values += 1;
        }
        Some(Value::ArrayValue(a)) => {
            if a.values.len() > MAX_ARRAY_ITEMS {
                a.values.truncate(MAX_ARRAY_ITEMS);
                trimmed.truncated_values += 1;
            }
            for v in &mut a.values {
                cap_value(v, max, trimmed);
            }
        }
        Some(Value::KvlistValue(kv)) => {
            if kv.values.len() > MAX_ARRAY_ITEMS {
                kv.values.truncate(MAX_ARRAY_ITEMS);
                trimmed.truncated_values += 1;
            }
            for kv in &mut kv.values {
                if let Some(v) = &mut kv.value {
                    cap_value(v, max, trimmed);
                }
            }
        }
        _ => {}
    }
}

/// Keeps the first [`MAX_ATTRIBUTES`] and caps their values; returns how many were dropped.
fn cap_attributes(attributes: &mut Vec<KeyValue>, trimmed: &mut Trimmed) -> u32 {
    let dropped = attributes.len().saturating_sub(MAX_ATTRIBUTES);
    attributes.truncate(MAX_ATTRIBUTES);
    for kv in attributes.iter_mut() {
        let max = if LONG_VALUE_KEYS.contains(&kv.key.as_str()) {
            MAX_MESSAGE_BYTES
        } else {
            MAX_VALUE_BYTES
        };
        if let Some(short) = truncate(&kv.key, MAX_VALUE_BYTES) {
            kv.key = short;
            trimmed.truncated_values += 1;
        }
        if let Some(v) = &mut kv.value {
            cap_value(v, max, trimmed);
        }
    }
    dropped as u32
}

/// Applies every cap to a traces request.
pub fn traces(request: &mut ExportTraceServiceRequest) -> Trimmed {
    let mut trimmed = Trimmed::default();
    let count = |rs: &[_]| -> usize {
        rs.iter()
            .map(|r: &opentelemetry_proto::tonic::trace::v1::ResourceSpans| {
                r.scope_spans.iter().map(|s| s.spans.len()).sum::<usize>()
            })
            .sum()
    };
    if request.resource_spans.len() > MAX_RESOURCES {
        trimmed.dropped_items += count(&request.resource_spans[MAX_RESOURCES..]);
        request.resource_spans.truncate(MAX_RESOURCES);
    }
    let mut budget = MAX_SPANS;
    for rs in &mut request.resource_spans {
        if let Some(resource) = &mut rs.resource {
            resource.dropped_attributes_count = resource
                .dropped_attributes_count
                .saturating_add(cap_attributes(&mut resource.attributes, &mut trimmed));
        }
        for ss in &mut rs.scope_spans {
            if let Some(scope) = &mut ss.scope {
                scope.dropped_attributes_count = scope
                    .dropped_attributes_count
                    .saturating_add(cap_attributes(&mut scope.attributes, &mut trimmed));
            }
            if ss.spans.len() > budget {
                trimmed.dropped_items += ss.spans.len() - budget;
                ss.spans.truncate(budget);
            }
            budget -= ss.spans.len();
            for span in &mut ss.spans {
                span.dropped_attributes_count = span
                    .dropped_attributes_count
                    .saturating_add(cap_attributes(&mut span.attributes, &mut trimmed));
                if span.events.len() > MAX_EVENTS {
                    span.dropped_events_count = span
                        .dropped_events_count
                        .saturating_add((span.events.len() - MAX_EVENTS) as u32);
                    span.events.truncate(MAX_EVENTS);
                }
                for event in &mut span.events {
                    event.dropped_attributes_count = event
                        .dropped_attributes_count
                        .saturating_add(cap_attributes(&mut event.attributes, &mut trimmed));
                }
                if span.links.len() > MAX_LINKS {
                    span.dropped_links_count = span
                        .dropped_links_count
                        .saturating_add((span.links.len() - MAX_LINKS) as u32);
                    span.links.truncate(MAX_LINKS);
                }
                for link in &mut span.links {
                    link.dropped_attributes_count = link
                        .dropped_attributes_count
                        .saturating_add(cap_attributes(&mut link.attributes, &mut trimmed));
                }
                if let Some(short) = truncate(&span.name, MAX_VALUE_BYTES) {
                    span.name = short;
                    trimmed.truncated_values += 1;
                }
            }
        }
    }
    trimmed
}

/// Applies the caps to a metrics request: [`MAX_SPANS`] data points, [`MAX_RESOURCES`]
/// resources, [`MAX_ATTRIBUTES`] attributes a point.
pub fn metrics(request: &mut ExportMetricsServiceRequest) -> Trimmed {
    let mut trimmed = Trimmed::default();
    if request.resource_metrics.len() > MAX_RESOURCES {
        trimmed.dropped_items += request.resource_metrics[MAX_RESOURCES..]
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| points(m.data.as_ref()))
            .sum::<usize>();
        request.resource_metrics.truncate(MAX_RESOURCES);
    }
    let mut budget = MAX_SPANS;
    for rm in &mut request.resource_metrics {
        if let Some(resource) = &mut rm.resource {
            resource.dropped_attributes_count = resource
                .dropped_attributes_count
                .saturating_add(cap_attributes(&mut resource.attributes, &mut trimmed));
        }
        for sm in &mut rm.scope_metrics {
            for metric in &mut sm.metrics {
                macro_rules! cap_points {
                    ($points:expr) => {{
                        if $points.len() > budget {
                            trimmed.dropped_items += $points.len() - budget;
                            $points.truncate(budget);
                        }
                        budget -= $points.len();
                        for p in $points.iter_mut() {
                            cap_attributes(&mut p.attributes, &mut trimmed);
                        }
                    }};
                }
                match &mut metric.data {
                    Some(Data::Gauge(g)) => cap_points!(g.data_points),
                    Some(Data::Sum(s)) => cap_points!(s.data_points),
                    Some(Data::Histogram(h)) => cap_points!(h.data_points),
                    Some(Data::ExponentialHistogram(h)) => cap_points!(h.data_points),
                    Some(Data::Summary(s)) => cap_points!(s.data_points),
                    None => {}
                }
            }
        }
    }
    trimmed
}

fn points(data: Option<&Data>) -> usize {
    match data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn values_are_cut_at_a_character_boundary_and_marked() {
        assert_eq!(truncate("short", 10), None);
        let cut = truncate("ééééé", 3).unwrap();
        assert_eq!(cut, "é…[truncated 8 bytes]");
    }

    #[test]
    fn spans_attributes_events_and_values_over_their_caps_are_dropped_and_counted() {
        let span = Span {
            attributes: (0..MAX_ATTRIBUTES + 5)
                .map(|i| kv(&format!("k{i}"), "v"))
                .chain([kv(
                    "gen_ai.input.messages",
                    &"m".repeat(MAX_VALUE_BYTES + 10),
                )])
                .chain([kv("note", &"n".repeat(MAX_VALUE_BYTES + 10))])
                .collect(),
            events: vec![Event::default(); MAX_EVENTS + 2],
            ..Default::default()
        };
        let mut first = span.clone();
        first.attributes.rotate_right(2); // the two long values first: kept, one cut
        let mut request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: std::iter::once(first)
                        .chain(std::iter::repeat_n(Span::default(), MAX_SPANS + 6))
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let trimmed = traces(&mut request);
        assert_eq!(trimmed.dropped_items, 7);
        assert_eq!(
            trimmed.truncated_values, 1,
            "the message is long but within its cap"
        );
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), MAX_SPANS);
        let kept = &spans[0];
        assert_eq!(kept.attributes.len(), MAX_ATTRIBUTES);
        assert_eq!(kept.dropped_attributes_count, 7);
        assert_eq!(kept.events.len(), MAX_EVENTS);
        assert_eq!(kept.dropped_events_count, 2);
        let note = &kept.attributes[1];
        assert_eq!(note.key, "note");
        match &note.value.as_ref().unwrap().value {
            Some(Value::StringValue(s)) => assert!(s.ends_with("…[truncated 10 bytes]")),
            other => panic!("{other:?}"),
        }
    }
}
