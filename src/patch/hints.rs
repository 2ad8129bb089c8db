//! Hints added to patch errors: the nearest known name for a misspelt one ("did you mean
//! `pattern`?") and where an unclosed bracket opened (Rhai reports a missing `)` where it
//! gave up, at the end of the chain, not where the `(` was).

/// Edit distance between `a` and `b` (optimal string alignment: insertions, deletions,
/// substitutions and swaps of two neighbours each cost 1), over characters, ignoring case.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    // Rows i-2, i-1 and i of the table.
    let mut back2 = vec![0usize; b.len() + 1];
    let mut back: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (back[j] + 1).min(row[j - 1] + 1).min(back[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(back2[j - 2] + 1);
            }
            row[j] = d;
        }
        std::mem::swap(&mut back2, &mut back);
        std::mem::swap(&mut back, &mut row);
    }
    back[b.len()]
}

/// The known name nearest to `word`, if it is near enough to be a slip (at most one edit for
/// short words, about one per three letters for longer ones); the first of equals wins.
pub fn nearest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        if k.eq_ignore_ascii_case(word) && k != word {
            return Some(k);
        }
        let d = distance(word, k);
        if d > 0 && d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

/// " — did you mean `x`?" for the nearest known name, or "" when none is near.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, known).map_or_else(String::new, |k| format!(" — did you mean `{k}`?"))
}

/// For Rhai's "Function not found: name (T1, T2)": the function's name and argument count.
pub fn called(signature: &str) -> (&str, usize) {
    let signature = signature.trim();
    let (name, args) = match signature.find(' ') {
        Some(i) => (&signature[..i], signature[i..].trim()),
        None => (signature, ""),
    };
    let args = args.trim_start_matches('(').trim_end_matches(')').trim();
    let count = if args.is_empty() {
        0
    } else {
        top_level_commas(args) + 1
    };
    (name, count)
}

/// A registered signature `name(a: T, b: U) -> R` (as `Engine::gen_fn_signatures` writes
/// them): its name and parameter count.
pub fn declared(signature: &str) -> Option<(&str, usize)> {
    let open = signature.find('(')?;
    let name = signature[..open].trim();
    let close = matching_close(&signature[open..])? + open;
    let params = signature[open + 1..close].trim();
    let count = if params.is_empty() {
        0
    } else {
        top_level_commas(params) + 1
    };
    Some((name, count))
}

fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' | '>' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 && c == ')' {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn top_level_commas(s: &str) -> usize {
    let mut depth = 0i32;
    s.chars()
        .filter(|c| {
            match c {
                '(' | '<' | '[' => depth += 1,
                ')' | '>' | ']' => depth -= 1,
                _ => {}
            }
            *c == ',' && depth == 0
        })
        .count()
}

/// The nearest function to a call that was not found: among the functions with as many
/// arguments first, then among all (a misspelt name with a wrong argument count still
/// deserves a hint). `functions` are (name, parameter count).
pub fn nearest_function<'a>(
    name: &str,
    args: usize,
    functions: &'a [(String, usize)],
) -> Option<&'a str> {
    let same = functions
        .iter()
        .filter(|(_, n)| *n == args)
        .map(|(f, _)| f.as_str());
    nearest(name, same).or_else(|| nearest(name, functions.iter().map(|(f, _)| f.as_str())))
}

/// Where the bracket that is still open at (`line`, `col`) (1-based, Rhai's position) was
/// opened: scans `src` from the start with strings, characters, back-tick strings and
/// comments skipped, and returns the innermost unclosed `(`, `[` or `{` (the one whose closer
/// `want` is, when given) as (bracket, line, col).
pub fn unclosed_before(
    src: &str,
    line: usize,
    col: usize,
    want: Option<char>,
) -> Option<(char, usize, usize)> {
    let mut stack: Vec<(char, usize, usize)> = Vec::new();
    let (mut l, mut c) = (1usize, 0usize);
    let mut chars = src.chars().peekable();
    let mut block_depth = 0usize;
    let mut in_line_comment = false;
    let mut in_str: Option<char> = None;
    let mut escaped = false;
    while let Some(ch) = chars.next() {
        if ch == '\n' {
            l += 1;
            c = 0;
            in_line_comment = false;
            if in_str == Some('"') || in_str == Some('\'') {
                in_str = None;
            }
            continue;
        }
        c += 1;
        if (l, c) >= (line, col) {
            break;
        }
        if in_line_comment {
            continue;
        }
        if block_depth > 0 {
            if ch == '*' && chars.peek() == Some(&'/') {
                chars.next();
                c += 1;
                block_depth -= 1;
            } else if ch == '/' && chars.peek() == Some(&'*') {
                chars.next();
                c += 1;
                block_depth += 1;
            }
            continue;
        }
        if let Some(q) = in_str {
            if escaped {
                escaped = false;
            } else if ch == '\\' && q != '`' {
                escaped = true;
            } else if ch == q {
                in_str = None;
            }
            continue;
        }
        match ch {
            '/' if chars.peek() == Some(&'/') => in_line_comment = true,
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                c += 1;
                block_depth += 1;
            }
            '"' | '\'' | '`' => in_str = Some(ch),
            '(' | '[' | '{' => stack.push((ch, l, c)),
            ')' | ']' | '}' => {
                let open = match ch {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if let Some(i) = stack.iter().rposition(|(b, _, _)| *b == open) {
                    stack.truncate(i);
                }
            }
            _ => {}
        }
    }
    let want_open = want.map(|w| match w {
        ')' => '(',
        ']' => '[',
        _ => '{',
    });
    stack
        .into_iter()
        .rev()
        .find(|(b, _, _)| want_open.is_none_or(|w| w == *b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(distance("patern", "pattern"), 1);
        assert_eq!(distance("pattren", "pattern"), 1);
        assert_eq!(distance("dorain", "dorian"), 1);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_needs_a_close_name() {
        let known = ["pattern", "notes", "gain", "voice"];
        assert_eq!(nearest("patern", known), Some("pattern"));
        assert_eq!(nearest("Voice", known), Some("voice"));
        assert_eq!(nearest("xyzzy", known), None);
        assert_eq!(nearest("gian", known), Some("gain"));
        assert_eq!(did_you_mean("note", known), " — did you mean `notes`?");
        assert_eq!(did_you_mean("zzz", known), "");
    }

    #[test]
    fn signatures_give_names_and_counts() {
        assert_eq!(
            called("patern (Voice, &str | ImmutableString | String)"),
            ("patern", 2)
        );
        assert_eq!(called("foo ()"), ("foo", 0));
        assert_eq!(
            declared("every(v: Voice, n: i64, f: FnPtr) -> Voice"),
            Some(("every", 3))
        );
        assert_eq!(
            declared("get(map: &mut Map, key: Result<A, B>) -> Dynamic"),
            Some(("get", 2))
        );
        assert_eq!(declared("tempo() -> ()"), Some(("tempo", 0)));
    }

    #[test]
    fn same_arity_wins_over_a_closer_name() {
        let fns = vec![("pan".to_string(), 1), ("gain".to_string(), 2)];
        assert_eq!(nearest_function("gan", 2, &fns), Some("gain"));
        assert_eq!(nearest_function("gan", 1, &fns), Some("pan"));
        assert_eq!(nearest_function("gan", 5, &fns), Some("pan"));
    }

    #[test]
    fn finds_the_unclosed_paren_past_strings_and_comments() {
        let src =
            "let v = voice(\"b(ass\")\n  // a ( comment\n  .pattern(\"x ~ )\"\n  .gain(0.5);\n";
        // Rhai stops at the `;` on line 4.
        assert_eq!(unclosed_before(src, 4, 13, Some(')')), Some(('(', 3, 11)));
        let src = "fn f() { /* ( */ [1, 2 }";
        assert_eq!(unclosed_before(src, 1, 24, Some(']')), Some(('[', 1, 18)));
        assert_eq!(unclosed_before(src, 1, 24, None), Some(('[', 1, 18)));
        assert_eq!(unclosed_before("f(1)", 1, 5, Some(')')), None);
    }
}
