//! Reading a frame's barcode results from the one string the JS side flattens them into,
//! `<length>:<format><length>:<text>...` with lengths in UTF-16 units: one crossing of the JS
//! boundary per frame instead of several per result. It parses; it judges nothing.

/// Splits the flattened string into (format, text) pairs; `None` when it is not well formed.
pub fn split(flat: &str) -> Option<Vec<(&str, &str)>> {
    let mut pairs = Vec::new();
    let mut rest = flat;
    while !rest.is_empty() {
        let (format, after_format) = field(rest)?;
        let (text, after_text) = field(after_format)?;
        pairs.push((format, text));
        rest = after_text;
    }
    Some(pairs)
}

/// One `<length>:<value>` field and what follows it. Lengths count UTF-16 units, which survive
/// the conversion of the JS string to UTF-8 (a lone surrogate becomes U+FFFD, one unit too).
fn field(flat: &str) -> Option<(&str, &str)> {
    let (length, rest) = flat.split_once(':')?;
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let units: usize = length.parse().ok()?;
    let mut counted = 0;
    for (at, c) in rest.char_indices() {
        if counted == units {
            return Some(rest.split_at(at));
        }
        counted += c.len_utf16();
    }
    (counted == units).then_some((rest, ""))
}
