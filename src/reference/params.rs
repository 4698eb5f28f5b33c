//! Parameter validation for the two generation endpoints, driven by the catalog.
//!
//! Checks run in the documented order and the first failure wins: unknown top-level field,
//! `model`, `prompt`, `aspect_ratio`, `resolution`, then `output_format` (images) or `duration`
//! and `sound` (videos), then `images`. Each error names one parameter, by path for nested
//! ones (`images[2].role`).

use std::collections::HashMap;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::catalog::{Catalog, Kind, Model, ROLES, SINGLE_ROLES};
use super::error::{ApiError, echo};

/// Most reference images any request may carry.
pub(crate) const MAX_IMAGES: usize = 8;
/// Prompt length bounds, in characters (Unicode scalar values).
pub(crate) const PROMPT_CHARS: std::ops::RangeInclusive<usize> = 1..=4096;
/// Largest decoded inline (`data:`) image.
pub(crate) const MAX_INLINE_IMAGE_BYTES: usize = 10 * 1024 * 1024;

const IMAGE_FIELDS: [&str; 6] = [
    "model",
    "prompt",
    "aspect_ratio",
    "resolution",
    "output_format",
    "images",
];
const VIDEO_FIELDS: [&str; 7] = [
    "model",
    "prompt",
    "aspect_ratio",
    "resolution",
    "duration",
    "sound",
    "images",
];
const REFERENCE_FIELDS: [&str; 2] = ["url", "role"];
const INLINE_PREFIXES: [&str; 3] = [
    "data:image/png;base64,",
    "data:image/jpeg;base64,",
    "data:image/webp;base64,",
];

/// A valid `POST /v2/images/generations` body, defaults filled in.
#[derive(Debug)]
pub(crate) struct ImageParams<'c> {
    pub model: &'c Model,
    pub prompt: String,
    pub aspect_ratio: String,
    pub resolution: String,
    pub output_format: String,
}

/// A valid `POST /v2/videos/generations` body, defaults filled in.
#[derive(Debug)]
pub(crate) struct VideoParams<'c> {
    pub model: &'c Model,
    pub prompt: String,
    pub aspect_ratio: String,
    pub resolution: String,
    pub duration: u32,
    pub sound: bool,
}

pub(crate) fn image_params<'c>(
    catalog: &'c Catalog,
    body: &Map<String, Value>,
) -> Result<ImageParams<'c>, ApiError> {
    unknown_field(body, &IMAGE_FIELDS, "")?;
    let model = model(catalog, body, Kind::Image)?;
    let prompt = prompt(body)?;
    let aspect_ratio = choose(body, "aspect_ratio", model, &model.supported_aspect_ratios)?;
    let resolution = choose(body, "resolution", model, &model.supported_resolutions)?;
    let output_format = choose(
        body,
        "output_format",
        model,
        &model.supported_output_formats,
    )?;
    // References are checked but do not change what the reference server makes.
    references(body, model, Kind::Image)?;
    Ok(ImageParams {
        model,
        prompt,
        aspect_ratio,
        resolution,
        output_format,
    })
}

pub(crate) fn video_params<'c>(
    catalog: &'c Catalog,
    body: &Map<String, Value>,
) -> Result<VideoParams<'c>, ApiError> {
    unknown_field(body, &VIDEO_FIELDS, "")?;
    let model = model(catalog, body, Kind::Video)?;
    let prompt = prompt(body)?;
    let aspect_ratio = choose(body, "aspect_ratio", model, &model.supported_aspect_ratios)?;
    let resolution = choose(body, "resolution", model, &model.supported_resolutions)?;
    let duration = duration(body, model)?;
    let sound = sound(body, model)?;
    references(body, model, Kind::Video)?;
    Ok(VideoParams {
        model,
        prompt,
        aspect_ratio,
        resolution,
        duration,
        sound,
    })
}

/// How a JSON value's type reads in a message.
fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(param: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid(
        param,
        format!(
            "Invalid type for '{}': expected {expected}, got {}.",
            echo(param),
            describe(got)
        ),
    )
}

/// `Unsupported <name> '<value>' for model '<model>'.`, the documented message shape.
fn unsupported(param: &str, name: &str, value: &str, model: &Model) -> ApiError {
    ApiError::invalid(
        param,
        format!(
            "Unsupported {name} '{}' for model '{}'.",
            echo(value),
            model.id
        ),
    )
}

/// The first key not in `allowed`, in the order the client sent them.
fn unknown_field(
    body: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => {
            let param = format!("{prefix}{key}");
            Err(ApiError::invalid(
                &param,
                format!("Unknown parameter '{}'.", echo(&param)),
            ))
        }
        None => Ok(()),
    }
}

/// A required string `key` of `body`, reported as `param` (its full path).
fn required_str<'b>(
    body: &'b Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<&'b str, ApiError> {
    match body.get(key) {
        None => Err(ApiError::missing(param)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(wrong_type(param, "a string", other)),
    }
}

fn model<'c>(
    catalog: &'c Catalog,
    body: &Map<String, Value>,
    endpoint: Kind,
) -> Result<&'c Model, ApiError> {
    let id = required_str(body, "model", "model")?;
    let model = catalog
        .get(id)
        .ok_or_else(|| ApiError::invalid("model", format!("Unknown model '{}'.", echo(id))))?;
    if model.kind != endpoint {
        let path = match model.kind {
            Kind::Image => "/v2/images/generations",
            Kind::Video => "/v2/videos/generations",
        };
        return Err(ApiError::invalid(
            "model",
            format!(
                "Model '{}' is a {} model; use it with POST {path}.",
                model.id,
                model.kind.as_str()
            ),
        ));
    }
    Ok(model)
}

fn prompt(body: &Map<String, Value>) -> Result<String, ApiError> {
    let prompt = required_str(body, "prompt", "prompt")?;
    let chars = prompt.chars().count();
    if !PROMPT_CHARS.contains(&chars) {
        return Err(ApiError::invalid(
            "prompt",
            format!(
                "Invalid 'prompt': it must be {} to {} characters long, got {chars}.",
                PROMPT_CHARS.start(),
                PROMPT_CHARS.end()
            ),
        ));
    }
    Ok(prompt.to_owned())
}

/// An optional string parameter drawn from a model's list; absent means the list's first value.
fn choose(
    body: &Map<String, Value>,
    param: &str,
    model: &Model,
    supported: &[String],
) -> Result<String, ApiError> {
    match body.get(param) {
        // The catalog guarantees non-empty lists; "" would then be refused as unsupported.
        None => Ok(supported.first().cloned().unwrap_or_default()),
        Some(Value::String(v)) if supported.contains(v) => Ok(v.clone()),
        Some(Value::String(v)) => Err(unsupported(param, param, v, model)),
        Some(other) => Err(wrong_type(param, "a string", other)),
    }
}

fn duration(body: &Map<String, Value>, model: &Model) -> Result<u32, ApiError> {
    let default = model.supported_durations.first().copied().unwrap_or(0);
    let Some(value) = body.get("duration") else {
        return Ok(default);
    };
    let Value::Number(n) = value else {
        return Err(wrong_type("duration", "an integer", value));
    };
    if n.is_f64() {
        return Err(wrong_type("duration", "an integer", value));
    }
    match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
        Some(secs) if model.supported_durations.contains(&secs) => Ok(secs),
        _ => Err(unsupported("duration", "duration", &n.to_string(), model)),
    }
}

fn sound(body: &Map<String, Value>, model: &Model) -> Result<bool, ApiError> {
    match body.get("sound") {
        None => Ok(false),
        Some(Value::Bool(true)) if !model.supports_sound => {
            Err(unsupported("sound", "sound", "true", model))
        }
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(wrong_type("sound", "a boolean", other)),
    }
}

fn references(body: &Map<String, Value>, model: &Model, endpoint: Kind) -> Result<(), ApiError> {
    let Some(value) = body.get("images") else {
        return Ok(());
    };
    let Value::Array(items) = value else {
        return Err(wrong_type("images", "an array", value));
    };
    if items.len() > MAX_IMAGES {
        return Err(ApiError::invalid(
            "images",
            format!(
                "Too many images: at most {MAX_IMAGES} are allowed, got {}.",
                items.len()
            ),
        ));
    }
    let allowed = match endpoint {
        Kind::Image => model.max_references("reference_image"),
        Kind::Video => model.max_references_total(),
    } as usize;
    if items.len() > allowed {
        let message = if allowed == 0 {
            format!("Model '{}' does not take reference images.", model.id)
        } else {
            format!(
                "Too many images for model '{}': at most {allowed}, got {}.",
                model.id,
                items.len()
            )
        };
        return Err(ApiError::invalid("images", message));
    }
    let mut per_role: HashMap<&str, u32> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("images[{i}]");
        let Value::Object(fields) = item else {
            return Err(wrong_type(&at, "an object", item));
        };
        unknown_field(fields, &REFERENCE_FIELDS, &format!("{at}."))?;
        let url_param = format!("{at}.url");
        let url = required_str(fields, "url", &url_param)?;
        check_url(&url_param, url)?;
        let role_param = format!("{at}.role");
        let role = match (endpoint, fields.get("role")) {
            // On images the role is optional and only reference_image exists.
            (Kind::Image, None) => "reference_image",
            (Kind::Video, None) => return Err(ApiError::missing(&role_param)),
            (_, Some(Value::String(role))) => role.as_str(),
            (_, Some(other)) => return Err(wrong_type(&role_param, "a string", other)),
        };
        let usable = match endpoint {
            Kind::Image => role == "reference_image",
            Kind::Video => ROLES.contains(&role) && model.max_references(role) > 0,
        };
        if !usable {
            return Err(unsupported(&role_param, "role", role, model));
        }
        let count = per_role.entry(role).or_insert(0);
        *count += 1;
        let mut max = model.max_references(role);
        if SINGLE_ROLES.contains(&role) {
            max = max.min(1);
        }
        if *count > max {
            return Err(ApiError::invalid(
                &role_param,
                format!(
                    "Too many images with role '{role}' for model '{}': at most {max}.",
                    model.id
                ),
            ));
        }
    }
    Ok(())
}

/// An `https://` URL with a host, or a `data:image/(png|jpeg|webp);base64,` URL whose payload
/// is non-empty base64 of at most 10 MiB.
fn check_url(param: &str, url: &str) -> Result<(), ApiError> {
    let bad = || {
        ApiError::invalid(
            param,
            format!(
                "Invalid image URL in '{param}': use an https:// URL or a \
                 data:image/(png|jpeg|webp);base64 URL."
            ),
        )
    };
    if let Some(payload) = INLINE_PREFIXES.iter().find_map(|p| url.strip_prefix(p)) {
        if payload.is_empty() {
            return Err(bad());
        }
        // Decoded size is about 3/4 of the text; refuse before decoding anything that big.
        if payload.len() / 4 * 3 > MAX_INLINE_IMAGE_BYTES + 3 {
            return Err(inline_too_large(param));
        }
        let engine = GeneralPurpose::new(
            &alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        let decoded = engine.decode(payload).map_err(|_| bad())?;
        if decoded.len() > MAX_INLINE_IMAGE_BYTES {
            return Err(inline_too_large(param));
        }
        return Ok(());
    }
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(bad()),
    }
}

fn inline_too_large(param: &str) -> ApiError {
    ApiError::invalid(
        param,
        format!("The inline image in '{param}' is larger than the 10 MiB limit."),
    )
}
