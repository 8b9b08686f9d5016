//! Errors of the view layer.

/// A Kubernetes object (or a file of them) that cannot be turned into views.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The text is not JSON.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not what was expected.
    #[error("{path}: {message}")]
    Shape {
        /// Where in the document (e.g. `items[3]`).
        path: String,
        /// What is wrong.
        message: String,
    },
}
