//! The JSON body extractor of every handler: `web::Json` with one rule more,
//! an object where the docs say object. serde's derive would also read a
//! struct from an array of its fields in order (`["worker03", "…"]` as a
//! login); such a body is `400 invalid_request`, like any other wrong shape.
//! Size limit, content type and error codes come from the app's
//! `JsonConfig` (`crate::error::json_error`).

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use gridsync_core::json::Obj;
use serde::de::DeserializeOwned;

/// A request body that is a JSON object of `T`'s shape.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<Obj<T>>::from_request(req, payload);
        Box::pin(async move { Ok(Json(body.await?.into_inner().0)) })
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
