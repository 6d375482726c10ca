//! Human-readable sizes, ages and times (`plumbing::human`) and JSON cells for
//! `portcullis ctl`'s tables.

pub use plumbing::human::{age, size, utc};
use serde_json::Value;

/// Unix milliseconds now (0 if the clock is before 1970).
pub fn now_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A JSON value as one table cell: `-` for null or missing, strings bare, lists
/// comma-separated, objects as compact JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) if s.is_empty() => "-".into(),
        Some(Value::String(s)) => one_line(s),
        Some(Value::Array(items)) if items.is_empty() => "-".into(),
        Some(Value::Array(items)) => items.iter().map(|v| cell(Some(v))).collect::<Vec<_>>().join(","),
        Some(other) => other.to_string(),
    }
}

/// A number field formatted with `f`, or `-` when it is missing or not a number.
pub fn number(value: Option<&Value>, f: impl Fn(u64) -> String) -> String {
    value.and_then(Value::as_u64).map_or_else(|| "-".into(), f)
}

/// Line breaks and tabs would break the columns (or a line redrawn in place).
pub fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cells_never_panic_and_show_missing_as_a_dash() {
        assert_eq!(cell(None), "-");
        assert_eq!(cell(Some(&json!(null))), "-");
        assert_eq!(cell(Some(&json!(""))), "-");
        assert_eq!(cell(Some(&json!("a\nb"))), "a b");
        assert_eq!(cell(Some(&json!(42))), "42");
        assert_eq!(cell(Some(&json!(true))), "true");
        assert_eq!(cell(Some(&json!(["a", "b"]))), "a,b");
        assert_eq!(cell(Some(&json!([]))), "-");
        assert_eq!(cell(Some(&json!({"k": 1}))), r#"{"k":1}"#);
        assert_eq!(number(Some(&json!(2048)), size), "2.0 KiB");
        assert_eq!(number(Some(&json!("x")), size), "-");
        assert_eq!(number(None, age), "-");
    }
}
