//! The shell-words split of a meta line, word for word what `shell_words::split` gives, but
//! without a copy for a word that needs no unquoting (most of a meta line): `list` splits a
//! line per service, and the per-character copying was a good part of its time.

use std::borrow::Cow;

/// The words of `text`, split and unquoted as `shell_words::split` does (quotes, backslashes,
/// a `#` comment at a word's start); a word with nothing to unquote borrows from `text`.
pub fn split(text: &str) -> Result<Vec<Cow<'_, str>>, shell_words::ParseError> {
    let bytes = text.as_bytes();
    let mut words = Vec::with_capacity(32);
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\n' => at += 1,
            // An escaped newline between words is no word.
            b'\\' if bytes.get(at + 1) == Some(&b'\n') => at += 2,
            b'#' => match bytes[at..].iter().position(|b| *b == b'\n') {
                Some(n) => at += n + 1,
                None => break,
            },
            _ => {
                let end = bytes[at..]
                    .iter()
                    .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\'' | b'"' | b'\\'))
                    .map_or(bytes.len(), |n| at + n);
                if matches!(bytes.get(end), None | Some(b' ' | b'\t' | b'\n')) {
                    words.push(Cow::Borrowed(&text[at..end]));
                    at = end;
                } else {
                    let (word, next) = quoted(text, at)?;
                    words.push(Cow::Owned(word));
                    at = next;
                }
            }
        }
    }
    Ok(words)
}

/// One word from `at` that has quotes or backslashes in it, unquoted; and where it ends.
fn quoted(text: &str, mut at: usize) -> Result<(String, usize), shell_words::ParseError> {
    let bytes = text.as_bytes();
    let mut word = Vec::new();
    while let Some(&b) = bytes.get(at) {
        at += 1;
        match b {
            b' ' | b'\t' | b'\n' => return Ok((utf8(word), at)),
            b'\\' => match bytes.get(at) {
                None => word.push(b'\\'),
                Some(b'\n') => at += 1,
                Some(&c) => {
                    word.push(c);
                    at += 1;
                }
            },
            b'\'' => {
                let n = bytes[at..]
                    .iter()
                    .position(|c| *c == b'\'')
                    .ok_or(shell_words::ParseError)?;
                word.extend_from_slice(&bytes[at..at + n]);
                at += n + 1;
            }
            b'"' => at = double_quoted(bytes, at, &mut word)?,
            _ => word.push(b),
        }
    }
    Ok((utf8(word), at))
}

/// The inside of a double-quoted part from `at` (after its `"`) onto `word`; where it ends.
fn double_quoted(
    bytes: &[u8],
    mut at: usize,
    word: &mut Vec<u8>,
) -> Result<usize, shell_words::ParseError> {
    loop {
        match bytes.get(at).copied() {
            None => return Err(shell_words::ParseError),
            Some(b'"') => return Ok(at + 1),
            Some(b'\\') => {
                match bytes.get(at + 1).copied() {
                    None => return Err(shell_words::ParseError),
                    Some(b'\n') => {}
                    Some(c @ (b'$' | b'`' | b'"' | b'\\')) => word.push(c),
                    Some(c) => word.extend_from_slice(&[b'\\', c]),
                }
                at += 2;
            }
            Some(c) => {
                word.push(c);
                at += 1;
            }
        }
    }
}

/// The bytes of a word cut out of a `&str` at ASCII boundaries only: always UTF-8.
fn utf8(word: Vec<u8>) -> String {
    String::from_utf8(word).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(text: &str) {
        let want = shell_words::split(text);
        let got = split(text).map(|w| w.into_iter().map(Cow::into_owned).collect::<Vec<_>>());
        assert_eq!(got.ok(), want.ok(), "{text:?}");
    }

    #[test]
    fn meta_lines_split_as_shell_words_does() {
        for text in [
            "tsm_id=0 name=s0 args='' cwd=/tmp interpreter='' port=''",
            "a='b c' d=\"e \\\" \\$ \\x\" f=g\\ h i=\\",
            "x=1 #comment\ny=2 z=#no",
            "unbalanced='",
            "u=\"",
            "u=\"\\",
            "ünï='cödé 服务' end",
            "",
            "  \t\n",
            "a\\\nb c\"\\\nd\"",
        ] {
            same(text);
        }
    }

    #[test]
    fn random_text_splits_as_shell_words_does() {
        let alphabet = [
            "a", "=", " ", "\t", "\n", "'", "\"", "\\", "#", "$", "`", "é", "x", "服",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut s = seed;
            for _ in 0..(s % 24) {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(alphabet[(s >> 33) as usize % alphabet.len()]);
            }
            same(&text);
        }
    }
}
