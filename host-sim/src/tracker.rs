#[derive(Debug, thiserror::Error)]
pub enum TrackerError { #[error("x")] X }
