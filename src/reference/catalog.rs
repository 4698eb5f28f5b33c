//! The model catalog: which values each model supports, and what it costs.
//!
//! Kept as data (`catalog.json`, compiled in) in the shape `GET /v2/models/{model}` returns, so
//! the models endpoints serialise it as is and validation reads the same lists a client sees.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use serde::{Deserialize, Serialize};

use super::money::Usd;

/// The catalog compiled into the binary.
pub(crate) const EMBEDDED_CATALOG: &str = include_str!("catalog.json");

/// What a model generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Image,
    Video,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
        }
    }
}

/// The sound setting a rate applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SoundRate {
    SoundOn,
    SoundOff,
    NotApplicable,
}

/// One catalog rate (`pricing.rates[]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rate {
    pub billable_unit: String,
    pub resolution: Option<String>,
    pub sound: SoundRate,
    /// A decimal string, as the API shows it.
    pub unit_price: String,
    #[serde(skip)]
    pub price: Usd,
}

/// `pricing`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Pricing {
    pub currency: String,
    pub rates: Vec<Rate>,
}

/// One model, in the API's shape. Field order is the order the API shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Model {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub created_at: String,
    pub supported_aspect_ratios: Vec<String>,
    pub supported_resolutions: Vec<String>,
    pub supported_durations: Vec<u32>,
    /// Not part of the API's model object; `output_format` is validated against it.
    #[serde(skip_serializing)]
    pub supported_output_formats: Vec<String>,
    pub supported_references: BTreeMap<String, u32>,
    pub supports_sound: bool,
    pub pricing: Pricing,
}

/// The three reference roles the API knows.
pub(crate) const ROLES: [&str; 3] = ["reference_image", "first_frame", "last_frame"];
/// Roles a generation may use at most once, whatever the model says.
pub(crate) const SINGLE_ROLES: [&str; 2] = ["first_frame", "last_frame"];
const IMAGE_FORMATS: [&str; 3] = ["png", "jpeg", "webp"];

/// A price found for one generation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Price<'a> {
    pub billable_unit: &'a str,
    pub unit_price: Usd,
}

impl Model {
    /// The maximum number of references of `role`, 0 when the model does not take it.
    pub(crate) fn max_references(&self, role: &str) -> u32 {
        self.supported_references.get(role).copied().unwrap_or(0)
    }

    /// All references the model takes together.
    pub(crate) fn max_references_total(&self) -> u32 {
        self.supported_references.values().sum()
    }

    /// The rate for a generation: an exact resolution beats a resolution-independent rate, and an
    /// exact sound setting beats `not_applicable` (the documented fallback).
    pub(crate) fn price(&self, resolution: &str, sound: Option<bool>) -> Option<Price<'_>> {
        let wanted = match sound {
            Some(true) => SoundRate::SoundOn,
            Some(false) => SoundRate::SoundOff,
            None => SoundRate::NotApplicable,
        };
        self.pricing
            .rates
            .iter()
            .filter_map(|r| {
                let res_score = match r.resolution.as_deref() {
                    Some(x) if x == resolution => 2,
                    None => 1,
                    Some(_) => return None,
                };
                let sound_score = if r.sound == wanted {
                    2
                } else if r.sound == SoundRate::NotApplicable {
                    1
                } else {
                    return None;
                };
                Some((res_score * 3 + sound_score, r))
            })
            .max_by_key(|(score, _)| *score)
            .map(|(_, r)| Price {
                billable_unit: &r.billable_unit,
                unit_price: r.price,
            })
    }
}

/// Why the catalog data is unusable.
#[derive(Debug, thiserror::Error)]
#[error("catalog.json: {0}")]
pub(crate) struct CatalogError(String);

/// The models, in catalog order, with their API bodies serialised once.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    models: Vec<Model>,
    by_id: HashMap<String, usize>,
    /// `GET /v2/models/{model}` bodies, by catalog index.
    bodies: Vec<Bytes>,
    /// `GET /v2/models` bodies: all, images only, videos only.
    lists: [Bytes; 3],
}

#[derive(Deserialize)]
struct CatalogFile {
    #[serde(rename = "description")]
    _description: Option<String>,
    models: Vec<Model>,
}

impl Catalog {
    /// Parse and check catalog data: every list a default is taken from is non-empty, every
    /// price parses, and every combination a request can select has a price.
    pub(crate) fn parse(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile =
            serde_json::from_str(text).map_err(|e| CatalogError(e.to_string()))?;
        let mut models = file.models;
        let mut by_id = HashMap::new();
        for (i, m) in models.iter_mut().enumerate() {
            let bad = |what: &str| CatalogError(format!("model {:?}: {what}", m.id));
            if by_id.insert(m.id.clone(), i).is_some() {
                return Err(bad("listed twice"));
            }
            if m.supported_aspect_ratios.is_empty() || m.supported_resolutions.is_empty() {
                return Err(bad("aspect ratios and resolutions need at least one value"));
            }
            for ar in &m.supported_aspect_ratios {
                if super::media::parse_aspect(ar).is_none() {
                    return Err(bad(&format!("aspect ratio {ar:?} is not W:H")));
                }
            }
            for r in &m.supported_resolutions {
                if super::media::parse_resolution(r).is_none() {
                    return Err(bad(&format!("resolution {r:?} is not like 2K or 1080p")));
                }
            }
            for role in m.supported_references.keys() {
                if !ROLES.contains(&role.as_str()) {
                    return Err(bad(&format!("unknown reference role {role:?}")));
                }
            }
            if SINGLE_ROLES.iter().any(|r| m.max_references(r) > 1) {
                return Err(bad("first_frame and last_frame are single references"));
            }
            match m.kind {
                Kind::Image => {
                    if m.supported_output_formats.is_empty()
                        || m.supported_output_formats
                            .iter()
                            .any(|f| !IMAGE_FORMATS.contains(&f.as_str()))
                        || !m.supported_durations.is_empty()
                        || m.supports_sound
                        || SINGLE_ROLES.iter().any(|r| m.max_references(r) > 0)
                    {
                        return Err(bad(
                            "an image model has png/jpeg/webp output formats, no durations, \
                             no sound and only reference_image references",
                        ));
                    }
                }
                Kind::Video => {
                    if m.supported_durations.is_empty() {
                        return Err(bad("a video model needs at least one duration"));
                    }
                }
            }
            for rate in &mut m.pricing.rates {
                rate.price = rate
                    .unit_price
                    .parse()
                    .map_err(|e| CatalogError(format!("model {:?}: {e}", m.id)))?;
            }
            let sounds: &[Option<bool>] = match (m.kind, m.supports_sound) {
                (Kind::Image, _) => &[None],
                (Kind::Video, false) => &[Some(false)],
                (Kind::Video, true) => &[Some(false), Some(true)],
            };
            for res in &m.supported_resolutions {
                for sound in sounds {
                    if m.price(res, *sound).is_none() {
                        return Err(CatalogError(format!(
                            "model {:?}: no rate for resolution {res} (sound {sound:?})",
                            m.id
                        )));
                    }
                }
            }
        }
        let body = |m: &Model| serde_json::to_vec(m).map_err(|e| CatalogError(e.to_string()));
        let bodies = models
            .iter()
            .map(|m| body(m).map(Bytes::from))
            .collect::<Result<Vec<_>, _>>()?;
        let list = |kind: Option<Kind>| -> Result<Bytes, CatalogError> {
            let chosen: Vec<&Model> = models
                .iter()
                .filter(|m| kind.is_none_or(|k| m.kind == k))
                .collect();
            serde_json::to_vec(&chosen)
                .map(Bytes::from)
                .map_err(|e| CatalogError(e.to_string()))
        };
        let lists = [
            list(None)?,
            list(Some(Kind::Image))?,
            list(Some(Kind::Video))?,
        ];
        Ok(Catalog {
            models,
            by_id,
            bodies,
            lists,
        })
    }

    /// The catalog compiled into this binary.
    pub(crate) fn embedded() -> Result<Self, CatalogError> {
        Self::parse(EMBEDDED_CATALOG)
    }

    /// A model by id.
    pub(crate) fn get(&self, id: &str) -> Option<&Model> {
        self.by_id.get(id).map(|&i| &self.models[i])
    }

    /// The `GET /v2/models/{model}` body of a model.
    pub(crate) fn body(&self, id: &str) -> Option<Bytes> {
        self.by_id.get(id).map(|&i| self.bodies[i].clone())
    }

    /// The `GET /v2/models` body: every model, or those of one kind.
    pub(crate) fn list(&self, kind: Option<Kind>) -> Bytes {
        let i = match kind {
            None => 0,
            Some(Kind::Image) => 1,
            Some(Kind::Video) => 2,
        };
        self.lists[i].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_is_valid() {
        let catalog = Catalog::embedded().unwrap();
        let lite = catalog.get("seedream-5-lite").unwrap();
        assert_eq!(lite.kind, Kind::Image);
        assert!(!lite.supported_resolutions.iter().any(|r| r == "4K"));
        assert_eq!(
            catalog.get("z-image-turbo").unwrap().max_references_total(),
            0
        );
        for id in ["seedance-v1-pro", "seedance-v1-5-pro"] {
            assert_eq!(catalog.get(id).unwrap().kind, Kind::Video);
        }
    }

    #[test]
    fn the_most_specific_rate_wins() {
        let catalog = Catalog::embedded().unwrap();
        let v15 = catalog.get("seedance-v1-5-pro").unwrap();
        let on = v15.price("1080p", Some(true)).unwrap();
        assert_eq!(
            (on.billable_unit, on.unit_price.to_string()),
            ("video_second", "0.05".into())
        );
        let gpt = catalog.get("gpt-image-2").unwrap();
        assert_eq!(
            gpt.price("4K", None).unwrap().unit_price.to_string(),
            "0.12"
        );
    }

    #[test]
    fn bad_catalogs_are_refused() {
        let empty_lists = r#"{"models":[{"id":"m","name":"M","type":"image","created_at":"2026-01-01T00:00:00Z",
            "supported_aspect_ratios":[],"supported_resolutions":["1K"],"supported_durations":[],
            "supported_output_formats":["png"],"supported_references":{},"supports_sound":false,
            "pricing":{"currency":"USD","rates":[]}}]}"#;
        assert!(Catalog::parse(empty_lists).is_err());
        let no_rate = empty_lists.replace(
            "\"supported_aspect_ratios\":[]",
            "\"supported_aspect_ratios\":[\"1:1\"]",
        );
        let err = Catalog::parse(&no_rate).unwrap_err().to_string();
        assert!(err.contains("no rate"), "{err}");
    }
}
