//! Name normalisation for matching the same artist/track across export sources: lower case,
//! collapsed whitespace, unified quotes, and featured-artist credits removed ("A feat. B" →
//! "a"; "Song (feat. B)" → "song"). Writes into a caller's buffer so the hot path allocates
//! nothing.

const FEAT: [&str; 5] = [" feat. ", " feat ", " ft. ", " featuring ", " with "];

/// Normalised matching key of an artist (`track == false`) or a track title.
pub fn key_into(s: &str, track: bool, out: &mut String) {
    out.clear();
    let mut space = true;
    for c in s.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '`' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            c => c,
        };
        if c.is_whitespace() {
            if !space {
                out.push(' ');
                space = true;
            }
            continue;
        }
        space = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    if track {
        for open in ["(feat", "[feat", "(ft.", "[ft.", "(with "] {
            if let Some(p) = out.find(open) {
                let close = if open.starts_with('(') { ')' } else { ']' };
                let end = out[p..].find(close).map_or(out.len(), |e| p + e + 1);
                out.replace_range(p..end, "");
            }
        }
        for sep in [" - feat", " feat. ", " ft. "] {
            if let Some(p) = out.find(sep) {
                out.truncate(p);
            }
        }
    } else {
        for sep in FEAT {
            if let Some(p) = out.find(sep) {
                out.truncate(p);
            }
        }
    }
    while let Some(p) = out.find("  ") {
        out.remove(p);
    }
    let t = out.trim_end().len();
    out.truncate(t);
}

/// Convenience wrapper returning a new string.
pub fn key(s: &str, track: bool) -> String {
    let mut out = String::new();
    key_into(s, track, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn normalises() {
        assert_eq!(key("  The  Beatles ", false), "the beatles");
        assert_eq!(key("Jay-Z feat. Alicia Keys", false), "jay-z");
        assert_eq!(
            key("Empire State Of Mind (feat. Alicia Keys)", true),
            "empire state of mind"
        );
        assert_eq!(key("Song [ft. X] Remix", true), "song remix");
        assert_eq!(key("Don\u{2019}t Stop", true), "don't stop");
        assert_eq!(key("ÉTÉ", false), "été");
    }
}
