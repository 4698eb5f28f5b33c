//! HAR 1.x, streamed: a `DeserializeSeed` walks `log` and hands each element of `log.entries`
//! on as it is read, so a file of any size is held one entry at a time. Each entry is read
//! twice over its own bytes: once as raw JSON (so a malformed entry is located and skipped, the
//! rest read on), then into the fields checks need. `content.text` is already decoded (HAR
//! stores bodies decompressed whatever `Content-Encoding` says) or base64 with `encoding`.
//! Fields beginning with `_`, and any other field, are ignored.

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::input::Problem;
use super::{Exchange, Place};

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, rename = "startedDateTime", default)]
    started: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request: Option<Request<'a>>,
    #[serde(borrow, default)]
    response: Option<Response<'a>>,
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(borrow, default)]
    headers: Vec<Header<'a>>,
    #[serde(borrow, rename = "postData", default)]
    post_data: Option<Content<'a>>,
}

#[derive(Deserialize)]
struct Response<'a> {
    status: i64,
    #[serde(borrow, default)]
    headers: Vec<Header<'a>>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    encoding: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<i64>,
}

/// Read the HAR on `reader`.
pub(super) fn read(
    file: &Arc<str>,
    reader: Box<dyn BufRead + '_>,
    exchange: &mut dyn FnMut(Exchange),
    problem: &mut dyn FnMut(Problem),
) {
    let mut entries = 0usize;
    let mut on_entry = |index: usize, raw: &RawValue| {
        entries = index + 1;
        match serde_json::from_str::<Entry<'_>>(raw.get()) {
            Err(e) => problem(Problem::new(
                file,
                Some(format!("entry {index}")),
                format!("not a HAR entry ({e}): not checked"),
            )),
            Ok(entry) => match to_exchange(file, index, entry) {
                Ok(ex) => exchange(ex),
                Err(why) => problem(Problem::new(file, Some(format!("entry {index}")), why)),
            },
        }
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut on_entry: OnEntry<'_> = &mut on_entry;
    let outcome = Root {
        on_entry: &mut on_entry,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Err(e) = outcome {
        let what = if e.is_eof() {
            format!(
                "truncated: the file ends inside the HAR, after {entries} entries were read (they were checked)"
            )
        } else {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            format!("{msg} (after {entries} entries, which were checked)")
        };
        let at = (e.line() > 0).then(|| format!("{}:{}", e.line(), e.column()));
        problem(Problem::new(file, at, what));
    }
}

fn to_exchange(file: &Arc<str>, index: usize, entry: Entry<'_>) -> Result<Exchange, String> {
    let Some(request) = entry.request else {
        return Err("no request: not checked".into());
    };
    let Some(response) = entry.response else {
        return Err("no response: not checked".into());
    };
    // Browsers write status 0 for a request that got no answer (blocked, aborted).
    let status = u16::try_from(response.status)
        .ok()
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| format!("no response (status {}): not checked", response.status))?;
    Ok(Exchange {
        place: Place::Entry {
            file: file.clone(),
            index,
        },
        time: entry.started.map(Cow::into_owned),
        method: request.method.into_owned(),
        url: request.url.into_owned(),
        request_headers: headers(request.headers),
        request_body: request.post_data.and_then(body),
        status,
        response_headers: headers(response.headers),
        response_body: response.content.and_then(body),
    })
}

fn headers(list: Vec<Header<'_>>) -> Vec<(String, String)> {
    list.into_iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.into_owned()))
        .collect()
}

/// The bytes of a content, or `None` when it was not recorded.
fn body(content: Content<'_>) -> Option<Bytes> {
    let text = match content.text {
        // An empty text of a non-empty body: the capture left it out.
        Some(t) if t.is_empty() && content.size.unwrap_or(0) > 0 => return None,
        Some(t) => t,
        None => return None,
    };
    if content.encoding.as_deref() == Some("base64") {
        return base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .ok()
            .map(Bytes::from);
    }
    Some(Bytes::from(text.into_owned()))
}

type OnEntry<'f> = &'f mut dyn FnMut(usize, &RawValue);

struct Root<'f, 'g> {
    on_entry: &'g mut OnEntry<'f>,
}

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a HAR object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut log = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "log" {
                map.next_value_seed(Log {
                    on_entry: &mut *self.on_entry,
                })?;
                log = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !log {
            return Err(serde::de::Error::custom("no `log` object: not a HAR file"));
        }
        Ok(())
    }
}

struct Log<'f, 'g> {
    on_entry: &'g mut OnEntry<'f>,
}

impl<'de> DeserializeSeed<'de> for Log<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Log<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HAR's `log` object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "version" => {
                    let version: Cow<'de, str> = map.next_value()?;
                    // A later minor version is read; another major is not HAR as we know it.
                    if !(version.starts_with("1.") || version == "1") {
                        return Err(serde::de::Error::custom(format!(
                            "HAR version {version}: only HAR 1.x is read"
                        )));
                    }
                }
                "entries" => map.next_value_seed(Entries {
                    on_entry: &mut *self.on_entry,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Entries<'f, 'g> {
    on_entry: &'g mut OnEntry<'f>,
}

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HAR's `entries` array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            (self.on_entry)(index, &raw);
            index += 1;
        }
        Ok(())
    }
}
