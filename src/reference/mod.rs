//! The reference server: a faithful getimg.ai v2 API on loopback (being built).
