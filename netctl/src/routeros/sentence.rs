//! Typed RouterOS API sentences: commands sent to the router and the replies it sends back
//! (help.mikrotik.com "API": "Command word", "Attribute word", "Query word", "Reply word",
//! "Tags").

use super::codec::RawSentence;
use std::collections::BTreeMap;
use thiserror::Error;

/// Attributes of one reply (`=key=value` words), ordered by key.
pub type Attributes = BTreeMap<String, String>;

/// Why a received sentence is not a valid reply or command.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SentenceError {
    /// A sentence whose first word is not a known reply word.
    #[error("unknown reply word {0:?}")]
    UnknownReply(String),
    /// A sentence whose first word is not a command (`/...`).
    #[error("not a command: {0:?}")]
    NotACommand(String),
}

/// A command to send: command word, attribute words, query words and an optional tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Command word, e.g. `/ppp/secret/print`.
    pub path: String,
    /// `=name=value` attribute words, in order.
    pub attributes: Vec<(String, String)>,
    /// `?...` query words without the leading `?`, in order (the order is significant).
    pub queries: Vec<String>,
    /// `.tag=` value that the router copies into every reply to this command.
    pub tag: Option<String>,
}

impl Command {
    /// A command with no attributes, e.g. `Command::new("/ppp/secret/print")`.
    pub fn new(path: impl Into<String>) -> Self {
        Self { path: path.into(), attributes: Vec::new(), queries: Vec::new(), tag: None }
    }

    /// Adds an `=name=value` attribute word.
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Adds a `?query` word; pass it without the `?`, e.g. `name=alice` or `#|`.
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.queries.push(query.into());
        self
    }

    /// Sets the `.tag=` of the command.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// The value of the first attribute called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The words to put on the wire.
    pub fn to_words(&self) -> Vec<String> {
        let mut words = Vec::with_capacity(2 + self.attributes.len() + self.queries.len());
        words.push(self.path.clone());
        words.extend(self.attributes.iter().map(|(k, v)| format!("={k}={v}")));
        words.extend(self.queries.iter().map(|q| format!("?{q}")));
        if let Some(tag) = &self.tag {
            words.push(format!(".tag={tag}"));
        }
        words
    }

    /// Parses a received command sentence (used by the simulator).
    pub fn parse(words: &RawSentence) -> Result<Self, SentenceError> {
        let mut it = words.iter().map(|w| String::from_utf8_lossy(w).into_owned());
        let path = it.next().unwrap_or_default();
        if !path.starts_with('/') {
            return Err(SentenceError::NotACommand(path));
        }
        let mut cmd = Command::new(path);
        for word in it {
            if let Some(attr) = word.strip_prefix('=') {
                let (k, v) = split_attr(attr);
                cmd.attributes.push((k, v));
            } else if let Some(q) = word.strip_prefix('?') {
                cmd.queries.push(q.to_owned());
            } else if let Some(tag) = word.strip_prefix(".tag=") {
                cmd.tag = Some(tag.to_owned());
            }
        }
        Ok(cmd)
    }
}

/// A `!trap`: the command failed (or, for `/cancel`, was interrupted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// `=category=` (0 missing item, 1 argument value failure, 2 interrupted, ... ), if sent.
    pub category: Option<u32>,
    /// `=message=`.
    pub message: String,
}

/// What a reply sentence says, without its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// `!re`: one row of data.
    Re(Attributes),
    /// `!done`: the command finished; `=ret=` carries e.g. the `.id` of an added item.
    Done {
        /// `=ret=` value, if any.
        ret: Option<String>,
    },
    /// `!trap`: the command failed; a `!done` still follows.
    Trap(Trap),
    /// `!fatal`: the router closes the connection; the word after it is the reason.
    Fatal(String),
    /// `!empty`: the command returned no data (RouterOS 7.18+); a `!done` follows.
    Empty,
}

/// One reply sentence from the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `.tag=` of the command this answers, if the command had one.
    pub tag: Option<String>,
    /// The reply itself.
    pub body: ReplyBody,
}

impl Reply {
    /// A reply with no tag.
    pub fn untagged(body: ReplyBody) -> Self {
        Self { tag: None, body }
    }

    /// Parses a received sentence; non-UTF-8 bytes are replaced (RouterOS may use a legacy
    /// code page for comments).
    pub fn parse(words: &RawSentence) -> Result<Self, SentenceError> {
        let mut it = words.iter().map(|w| String::from_utf8_lossy(w).into_owned());
        let kind = it.next().unwrap_or_default();
        let mut tag = None;
        let mut attrs = Attributes::new();
        let mut plain = Vec::new();
        for word in it {
            if let Some(attr) = word.strip_prefix('=') {
                let (k, v) = split_attr(attr);
                attrs.insert(k, v);
            } else if let Some(t) = word.strip_prefix(".tag=") {
                tag = Some(t.to_owned());
            } else {
                plain.push(word);
            }
        }
        let body = match kind.as_str() {
            "!re" => ReplyBody::Re(attrs),
            "!done" => ReplyBody::Done { ret: attrs.remove("ret") },
            "!trap" => ReplyBody::Trap(Trap {
                category: attrs.get("category").and_then(|c| c.parse().ok()),
                message: attrs.remove("message").unwrap_or_default(),
            }),
            "!fatal" => ReplyBody::Fatal(plain.join(" ")),
            "!empty" => ReplyBody::Empty,
            _ => return Err(SentenceError::UnknownReply(kind)),
        };
        Ok(Self { tag, body })
    }

    /// The words to put on the wire (used by the simulator).
    pub fn to_words(&self) -> Vec<String> {
        let mut words = Vec::new();
        match &self.body {
            ReplyBody::Re(attrs) => {
                words.push("!re".to_owned());
                words.extend(attrs.iter().map(|(k, v)| format!("={k}={v}")));
            }
            ReplyBody::Done { ret } => {
                words.push("!done".to_owned());
                words.extend(ret.iter().map(|r| format!("=ret={r}")));
            }
            ReplyBody::Trap(trap) => {
                words.push("!trap".to_owned());
                words.extend(trap.category.iter().map(|c| format!("=category={c}")));
                words.push(format!("=message={}", trap.message));
            }
            ReplyBody::Fatal(reason) => {
                words.push("!fatal".to_owned());
                words.push(reason.clone());
            }
            ReplyBody::Empty => words.push("!empty".to_owned()),
        }
        if let Some(tag) = &self.tag {
            words.push(format!(".tag={tag}"));
        }
        words
    }
}

/// Splits `name=value` (the leading `=` already removed); the value may contain `=` and may
/// be missing ("Attribute word").
fn split_attr(attr: &str) -> (String, String) {
    match attr.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => (attr.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<S: AsRef<str>>(words: &[S]) -> RawSentence {
        words.iter().map(|w| w.as_ref().as_bytes().to_vec()).collect()
    }

    #[test]
    fn builds_commands() {
        let cmd = Command::new("/ppp/secret/print").attr(".proplist", ".id,name").query("name=alice").with_tag("7");
        assert_eq!(cmd.to_words(), ["/ppp/secret/print", "=.proplist=.id,name", "?name=alice", ".tag=7"]);
        assert_eq!(Command::parse(&raw(&cmd.to_words())).unwrap(), cmd);
        assert_eq!(Command::parse(&raw(&["!re"])), Err(SentenceError::NotACommand("!re".into())));
    }

    #[test]
    fn parses_replies() {
        let re = Reply::parse(&raw(&["!re", "=.id=*1", "=name=a=b", "=comment", ".tag=3"])).unwrap();
        assert_eq!(re.tag.as_deref(), Some("3"));
        let ReplyBody::Re(attrs) = re.body else { panic!("not !re") };
        assert_eq!(attrs[".id"], "*1");
        assert_eq!(attrs["name"], "a=b");
        assert_eq!(attrs["comment"], "");

        let done = Reply::parse(&raw(&["!done", "=ret=*A"])).unwrap();
        assert_eq!(done.body, ReplyBody::Done { ret: Some("*A".into()) });

        let trap = Reply::parse(&raw(&["!trap", "=category=1", "=message=bad", ".tag=x"])).unwrap();
        assert_eq!(trap.body, ReplyBody::Trap(Trap { category: Some(1), message: "bad".into() }));
        assert_eq!(
            Reply::parse(&raw(&["!fatal", "not logged in"])).unwrap().body,
            ReplyBody::Fatal("not logged in".into())
        );
        assert_eq!(Reply::parse(&raw(&["!empty", ".tag=1"])).unwrap().body, ReplyBody::Empty);
        assert!(Reply::parse(&raw(&["!bogus"])).is_err());
    }

    #[test]
    fn replies_round_trip_through_words() {
        let replies = [
            Reply {
                tag: Some("9".into()),
                body: ReplyBody::Re([("name".to_owned(), "x".to_owned())].into_iter().collect()),
            },
            Reply::untagged(ReplyBody::Done { ret: None }),
            Reply::untagged(ReplyBody::Trap(Trap { category: None, message: "no such command".into() })),
            Reply::untagged(ReplyBody::Fatal("session terminated".into())),
            Reply::untagged(ReplyBody::Empty),
        ];
        for r in replies {
            assert_eq!(Reply::parse(&raw(&r.to_words())).unwrap(), r);
        }
    }
}
