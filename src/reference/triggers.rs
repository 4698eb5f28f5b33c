//! The documented triggers: a way for a client to cause on purpose what it otherwise cannot (a
//! server fault, a flagged prompt, a video that fails after it was accepted). Kept together
//! because they share one switch, `Config::triggers`: off, the header is ignored and the terms
//! are ordinary text, as on a production target.

use super::error::{ApiError, Code};
use super::videos::Outcome;

/// Request header that injects a fault: `server_error` (any endpoint answers 500
/// `server_error`) or `panic` (the request panics; the panic is caught and answered 500
/// `server_error`).
pub const FAULT_HEADER: &str = "x-errcontract-fault";
/// Prompt term that makes a generation fail the content policy at submission (422).
pub const CONTENT_POLICY_TERM: &str = "errcontract-trigger:content-policy";
/// Video prompt term: the video is accepted, then its poll says `failed` with `server_error`.
pub const VIDEO_FAILURE_TERM: &str = "errcontract-trigger:video-failure";
/// Video prompt term: the video is accepted, then its poll says `failed` with
/// `content_policy_violation`.
pub const VIDEO_MODERATION_TERM: &str = "errcontract-trigger:video-moderation";

const CONTENT_POLICY_MESSAGE: &str =
    "Your prompt was flagged by our safety checks. Revise the prompt and try again.";
const VIDEO_FAILURE_MESSAGE: &str = "Upstream provider request timed out.";
const VIDEO_MODERATION_MESSAGE: &str = "The generated video was flagged by content moderation.";

/// A fault the fault header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer 500 `server_error` at once.
    ServerError,
    /// Panic inside the request.
    Panic,
}

/// Whether the triggers are on, and what each one does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Triggers {
    enabled: bool,
}

impl Triggers {
    pub(crate) fn new(enabled: bool) -> Self {
        Triggers { enabled }
    }

    /// The fault a [`FAULT_HEADER`] value asks for: compared case-insensitively after
    /// trimming; any other value asks for none.
    pub(crate) fn fault(self, value: &str) -> Option<Fault> {
        let value = value.trim();
        if !self.enabled {
            None
        } else if value.eq_ignore_ascii_case("server_error") {
            Some(Fault::ServerError)
        } else if value.eq_ignore_ascii_case("panic") {
            Some(Fault::Panic)
        } else {
            None
        }
    }

    /// Step 8 of a submission: 422 on a prompt with [`CONTENT_POLICY_TERM`].
    pub(crate) fn content_policy(self, prompt: &str) -> Result<(), ApiError> {
        if self.enabled && prompt.contains(CONTENT_POLICY_TERM) {
            return Err(
                ApiError::new(Code::ContentPolicyViolation, CONTENT_POLICY_MESSAGE).param("prompt"),
            );
        }
        Ok(())
    }

    /// How a video with this prompt will end, decided when it is accepted.
    pub(crate) fn video_outcome(self, prompt: &str) -> Outcome {
        if !self.enabled {
            Outcome::Completed
        } else if prompt.contains(VIDEO_FAILURE_TERM) {
            Outcome::Failed(Code::ServerError, VIDEO_FAILURE_MESSAGE)
        } else if prompt.contains(VIDEO_MODERATION_TERM) {
            Outcome::Failed(Code::ContentPolicyViolation, VIDEO_MODERATION_MESSAGE)
        } else {
            Outcome::Completed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: Triggers = Triggers { enabled: true };
    const OFF: Triggers = Triggers { enabled: false };

    #[test]
    fn the_fault_header_is_matched_loosely_and_only_when_on() {
        assert_eq!(ON.fault(" Server_Error "), Some(Fault::ServerError));
        assert_eq!(ON.fault("PANIC"), Some(Fault::Panic));
        assert_eq!(ON.fault("server-error"), None);
        assert_eq!(ON.fault(""), None);
        assert_eq!(OFF.fault("panic"), None);
    }

    #[test]
    fn the_content_policy_term_is_a_422_on_the_prompt() {
        let prompt = format!("a cat, {CONTENT_POLICY_TERM}");
        let err = ON.content_policy(&prompt).unwrap_err();
        assert_eq!(err.code, Code::ContentPolicyViolation);
        assert_eq!(err.param.as_deref(), Some("prompt"));
        assert!(ON.content_policy("a cat").is_ok());
        assert!(OFF.content_policy(&prompt).is_ok());
    }

    #[test]
    fn video_terms_choose_how_the_video_ends() {
        let fail = format!("x {VIDEO_FAILURE_TERM}");
        let moderate = format!("x {VIDEO_MODERATION_TERM}");
        assert_eq!(
            ON.video_outcome(&fail),
            Outcome::Failed(Code::ServerError, VIDEO_FAILURE_MESSAGE)
        );
        assert_eq!(
            ON.video_outcome(&moderate),
            Outcome::Failed(Code::ContentPolicyViolation, VIDEO_MODERATION_MESSAGE)
        );
        assert_eq!(ON.video_outcome("a cat"), Outcome::Completed);
        assert_eq!(OFF.video_outcome(&fail), Outcome::Completed);
    }
}
