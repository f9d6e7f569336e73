//! What a service wrote, made safe to print on a terminal: colours pass (`ESC [ … m`, as
//! `less -R` lets them), every other control sequence and control character is shown as
//! text (`^[`, `^M`, `<U+009B>`), so a log can neither move the cursor, retitle the window,
//! set the clipboard nor clear the screen. `tsm logs --raw` prints the bytes as they are.

/// Appends `input` to `out`, neutralised as the module note says; newlines and tabs stay.
pub fn neutralise(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        match b {
            0x1b => {
                let colour = colour_len(&input[i..]);
                if colour > 0 {
                    out.extend_from_slice(&input[i..i + colour]);
                    i += colour;
                    continue;
                }
                out.extend_from_slice(b"^[");
            }
            b'\n' | b'\t' => out.push(b),
            0..=0x1f => out.extend_from_slice(&[b'^', b + 0x40]),
            0x7f => out.extend_from_slice(b"^?"),
            // C1 controls in UTF-8 (U+0080..U+009F: CSI, OSC and the like).
            0xc2 if matches!(input.get(i + 1), Some(0x80..=0x9f)) => {
                out.extend_from_slice(format!("<U+{:04X}>", input[i + 1]).as_bytes());
                i += 1;
            }
            _ => out.push(b),
        }
        i += 1;
    }
}

/// The length of the colour sequence (SGR: `ESC [` digits and `;` then `m`) `bytes` starts
/// with, or 0 when it starts with something else.
fn colour_len(bytes: &[u8]) -> usize {
    if bytes.get(1) != Some(&b'[') {
        return 0;
    }
    for (i, b) in bytes.iter().enumerate().skip(2).take(64) {
        match b {
            b'0'..=b'9' | b';' => {}
            b'm' => return i + 1,
            _ => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(text: &[u8]) -> String {
        let mut out = Vec::new();
        neutralise(text, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn colours_pass_and_everything_else_is_shown() {
        assert_eq!(clean(b"\x1b[1;31mred\x1b[0m\n"), "\x1b[1;31mred\x1b[0m\n");
        assert_eq!(clean(b"\x1b]0;owned\x07"), "^[]0;owned^G");
        assert_eq!(clean(b"\x1b[2J\x1b[H"), "^[[2J^[[H");
        assert_eq!(clean(b"\x1b]52;c;cGF5\x1b\\"), "^[]52;c;cGF5^[\\");
        assert_eq!(clean(b"50%\r100%\ttab\x7f"), "50%^M100%\ttab^?");
        assert_eq!(clean("\u{9b}2J é".as_bytes()), "<U+009B>2J é");
        assert_eq!(clean(b"\x1b"), "^[");
    }
}
