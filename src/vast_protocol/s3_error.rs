//! The S3 XML error body VAST answers a failed call with:
//! `<Error><Code>…</Code><Message>…</Message></Error>`.

use serde::{Deserialize, Serialize};

/// An S3 error body's code and message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Error")]
pub struct S3ErrorBody {
    /// `NoSuchBucket`, `SlowDown`, …
    #[serde(rename = "Code", default)]
    pub code: String,
    /// What went wrong, for people.
    #[serde(rename = "Message", default)]
    pub message: String,
}

impl S3ErrorBody {
    /// Reads a body; `None` when it is not an S3 error document (a HEAD answer has none).
    pub fn from_xml(body: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(body).ok()?;
        quick_xml::de::from_str(text).ok()
    }

    /// The body as sent, with its XML declaration.
    pub fn to_xml(&self) -> String {
        let element = quick_xml::se::to_string(self).unwrap_or_else(|err| {
            // Two string fields always serialize; keep the answer an S3 error regardless.
            tracing::error!(%err, "S3 error body not serialized");
            String::from("<Error><Code>InternalError</Code><Message></Message></Error>")
        });
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{element}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_read_back_what_was_written() {
        let body = S3ErrorBody {
            code: "BadRequest".to_owned(),
            message: "a <b> & \"c\"".to_owned(),
        };
        assert_eq!(S3ErrorBody::from_xml(body.to_xml().as_bytes()), Some(body));
        assert_eq!(S3ErrorBody::from_xml(b""), None);
    }
}
