//! The one stylesheet, served under a name that carries a hash of its
//! content (`/assets/tongban-<hash>.css`), so browsers may keep it for a year:
//! a changed stylesheet has a new name, and pages name the new one.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The stylesheet's text.
pub const CSS: &str = include_str!("tongban.css");

/// The stylesheet's path, with the first 16 hex digits of its SHA-256.
pub static PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(CSS.as_bytes());
    format!("/assets/tongban-{}.css", &hex::encode(digest)[..16])
});

/// `GET /assets/{file}`: the stylesheet under its current name, cached for a
/// year and immutable; any other name is 404, so an old page's name is
/// never answered with new content under a stale cache rule.
pub async fn serve(Path(file): Path<String>) -> Response {
    if PATH.strip_prefix("/assets/") != Some(file.as_str()) {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CSS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_carries_the_contents_hash() {
        let hex = PATH
            .strip_prefix("/assets/tongban-")
            .and_then(|rest| rest.strip_suffix(".css"))
            .expect("the stylesheet's name");
        assert_eq!(hex.len(), 16);
        assert!(hex.starts_with(&hex::encode(Sha256::digest(CSS.as_bytes()))[..16]));
    }
}
