//! The recording reverse proxy (`errcontract proxy`).
