//! The one-line `key=value` meta format: parsed with shell-words (never eval'ed), unknown keys kept.

pub use crate::state::keys::Key;

/// One process's metadata, in file order; keys the code does not know are carried along.
///
/// Every key and value lives in one buffer the pairs point into: a listing parses thousands
/// of these, and two allocations per pair were most of its time.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    text: String,
    pairs: Vec<(Span, Span)>,
}

/// Where a key or a value sits in [`Meta`]'s buffer.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    end: usize,
}

impl PartialEq for Meta {
    fn eq(&self, other: &Self) -> bool {
        self.pairs().eq(other.pairs())
    }
}

impl Eq for Meta {}

/// Why a meta file's text is no meta.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    #[error("unbalanced quoting ({0})")]
    Quoting(shell_words::ParseError),
    #[error("'{0}' is not key=value")]
    NotKeyValue(String),
    #[error("bad key '{0}'")]
    BadKey(String),
    #[error("empty")]
    Empty,
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Meta {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the text of a meta file.
    pub fn parse(text: &str) -> Result<Self, MetaError> {
        let words =
            crate::state::words::split(text.trim_end_matches('\n')).map_err(MetaError::Quoting)?;
        let mut meta = Meta {
            text: String::with_capacity(text.len()),
            pairs: Vec::with_capacity(words.len()),
        };
        // Which (length, first byte) classes of keys were seen: a key of a class not seen yet
        // cannot repeat one, and is appended without a search.
        let mut seen: u64 = 0;
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                return Err(MetaError::NotKeyValue(word.into_owned()));
            };
            if !valid_key(key) {
                return Err(MetaError::BadKey(key.to_string()));
            }
            let class =
                1u64 << ((key.len() * 31 + usize::from(key.bytes().next().unwrap_or(0))) % 64);
            if seen & class == 0 {
                meta.push(key, value);
            } else {
                meta.set_raw(key, value);
            }
            seen |= class;
        }
        if meta.pairs.is_empty() {
            return Err(MetaError::Empty);
        }
        Ok(meta)
    }

    /// The file form: one line, values quoted only where they need it.
    pub fn to_line(&self) -> String {
        let mut line = String::new();
        for (i, (key, value)) in self.pairs().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(key);
            line.push('=');
            line.push_str(&shell_words::quote(value));
        }
        line.push('\n');
        line
    }

    /// The value of `key`, if the file has it.
    pub fn get(&self, key: Key) -> Option<&str> {
        self.raw(key.as_str())
    }

    /// The value of a key by its text: for keys tsm does not know (kept as they are) and for
    /// readers of the file format itself.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.pairs().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn at(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    /// `text` appended to the buffer, and where it now sits.
    fn append(&mut self, text: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(text);
        Span {
            start,
            end: self.text.len(),
        }
    }

    /// A new pair at the end.
    fn push(&mut self, key: &str, value: &str) {
        let pair = (self.append(key), self.append(value));
        self.pairs.push(pair);
    }

    /// Sets `key`, keeping its place when it exists already.
    pub fn set(&mut self, key: Key, value: impl Into<String>) {
        self.set_raw(key.as_str(), value);
    }

    /// Sets a key by its text (a pair read back from a dump, say).
    pub fn set_raw(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.pairs.iter().position(|(k, _)| self.at(*k) == key) {
            // The old value's bytes stay behind in the buffer until they outweigh the live
            // ones (a supervisor sets its record's keys for its whole life).
            Some(at) => {
                self.pairs[at].1 = self.append(&value);
                self.compact();
            }
            None => self.push(key, &value),
        }
    }

    /// The buffer written again with only what the pairs use, once what they no longer use
    /// is more than that.
    fn compact(&mut self) {
        let live: usize = self
            .pairs
            .iter()
            .map(|(k, v)| k.end - k.start + v.end - v.start)
            .sum();
        if self.text.len() <= 2 * live + 256 {
            return;
        }
        let mut fresh = Meta {
            text: String::with_capacity(live),
            pairs: Vec::with_capacity(self.pairs.len()),
        };
        for (key, value) in self.pairs() {
            fresh.push(key, value);
        }
        *self = fresh;
    }

    pub fn remove(&mut self, key: Key) {
        self.remove_raw(key.as_str());
    }

    /// Removes a key by its text.
    pub fn remove_raw(&mut self, key: &str) {
        let text = &self.text;
        self.pairs.retain(|(k, _)| &text[k.start..k.end] != key);
        self.compact();
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (self.at(*k), self.at(*v)))
    }

    fn number<T: std::str::FromStr>(&self, key: Key) -> Option<T> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    /// The TSM ID (`tsm_id`, or the older `tpm_id`).
    pub fn id(&self) -> Option<u64> {
        self.number(Key::TsmId).or_else(|| self.number(Key::TpmId))
    }
    pub fn name(&self) -> Option<&str> {
        self.get(Key::Name)
    }
    pub fn pid(&self) -> Option<i32> {
        self.number::<i32>(Key::Pid).filter(|p| *p > 0)
    }
    pub fn proc_start(&self) -> Option<u64> {
        self.number(Key::ProcStart)
    }
    pub fn port(&self) -> Option<u16> {
        self.number::<u16>(Key::Port).filter(|p| *p > 0)
    }
    pub fn start_time(&self) -> Option<u64> {
        self.number(Key::StartTime)
    }
    pub fn status(&self) -> &str {
        self.get(Key::Status).unwrap_or("")
    }
    /// Restarts since the start, or since `tsm reset` (which records the count it cleared).
    pub fn restarts(&self) -> u64 {
        self.number::<u64>(Key::Restarts)
            .unwrap_or(0)
            .saturating_sub(self.number(Key::RestartsReset).unwrap_or(0))
    }
    pub fn u64(&self, key: Key) -> Option<u64> {
        self.number(key)
    }
    pub fn i32(&self, key: Key) -> Option<i32> {
        self.number(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_formats_line_parses() {
        let m = Meta::parse(
            "script=/path/to/server.sh pid=12345 port=3000 start_time=1757566677 type=cli tpm_id=0\n",
        )
        .unwrap();
        assert_eq!(m.get(Key::Script), Some("/path/to/server.sh"));
        assert_eq!(m.pid(), Some(12345));
        assert_eq!(m.port(), Some(3000));
        assert_eq!(m.id(), Some(0));
        assert_eq!(m.get(Key::Type), Some("cli"));
    }

    #[test]
    fn awkward_values_round_trip() {
        let mut m = Meta::new();
        m.set(Key::TsmId, "7");
        m.set(Key::Script, "/tmp/my dir/it's \"quoted\".sh");
        m.set(Key::Args, "--name 'x y' $HOME `id`");
        m.set(Key::Cwd, "/tmp/ünïcödé/服务");
        m.set_raw("empty", "");
        m.set_raw("newline", "a\nb");
        let line = m.to_line();
        assert_eq!(
            line.matches('\n').count(),
            2,
            "only the value's own newline: {line}"
        );
        assert_eq!(Meta::parse(&line).unwrap(), m);
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value() {
        let m = Meta::parse("a=1 bb=2 a=3 cc=4 bb=5 ab=6").unwrap();
        let pairs: Vec<_> = m.pairs().collect();
        assert_eq!(pairs, [("a", "3"), ("bb", "5"), ("cc", "4"), ("ab", "6")]);
    }

    #[test]
    fn unknown_keys_are_kept_in_order() {
        let m = Meta::parse("zeta=1 tsm_id=3 custom_thing='a b' name=x-1").unwrap();
        let keys: Vec<_> = m.pairs().map(|(k, _)| k).collect();
        assert_eq!(keys, ["zeta", "tsm_id", "custom_thing", "name"]);
        assert_eq!(Meta::parse(&m.to_line()).unwrap(), m);
    }

    #[test]
    fn set_replaces_in_place_and_remove_drops() {
        let mut m = Meta::parse("name=x port=2 c=3").unwrap();
        m.set(Key::Port, "20");
        m.remove(Key::Name);
        assert_eq!(m.to_line(), "port=20 c=3\n");
    }

    #[test]
    fn a_key_set_for_a_long_life_keeps_the_buffer_small() {
        let mut m = Meta::parse("tsm_id=1 name=web status=online restarts=0").unwrap();
        for n in 0..10_000u32 {
            m.set(Key::Restarts, n.to_string());
            m.set(Key::Status, if n % 2 == 0 { "launching" } else { "online" });
        }
        assert!(
            m.text.len() < 512,
            "the buffer grew to {} bytes",
            m.text.len()
        );
        assert_eq!(
            m.to_line(),
            "tsm_id=1 name=web status=online restarts=9999\n"
        );
        for n in 0..1_000u32 {
            m.set_raw(&format!("k{n}"), "v");
            m.remove_raw(&format!("k{n}"));
        }
        assert!(
            m.text.len() < 512,
            "the buffer grew to {} bytes",
            m.text.len()
        );
        assert_eq!(m.raw("name"), Some("web"));
    }

    #[test]
    fn tsm_id_wins_over_tpm_id() {
        assert_eq!(Meta::parse("tpm_id=1 tsm_id=2").unwrap().id(), Some(2));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for (bad, why) in [
            ("", MetaError::Empty),
            ("   \n", MetaError::Empty),
            (
                "no_equals_sign",
                MetaError::NotKeyValue("no_equals_sign".into()),
            ),
            (
                "a='unterminated",
                MetaError::Quoting(shell_words::ParseError),
            ),
            ("9bad=1", MetaError::BadKey("9bad".into())),
            ("=x", MetaError::BadKey(String::new())),
        ] {
            assert_eq!(Meta::parse(bad), Err(why), "{bad:?} should not parse");
        }
        assert_eq!(
            MetaError::Quoting(shell_words::ParseError).to_string(),
            "unbalanced quoting (missing closing quote)"
        );
    }

    #[test]
    fn nothing_is_evaluated() {
        let m = Meta::parse("cmd='$(rm -rf /)' other=`whoami`").unwrap();
        assert_eq!(m.raw("cmd"), Some("$(rm -rf /)"));
        assert_eq!(m.raw("other"), Some("`whoami`"));
    }
}
