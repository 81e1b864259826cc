//! Thumbnails of photos, for list views that must not pull full photos:
//! a JPEG at most [`EDGE`] pixels on its longer side, made on first request
//! and kept beside the original.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// Longest side of a thumbnail, in pixels.
pub const EDGE: u32 = 320;

/// Largest photo decoded, in pixels per side (a 200-megapixel phone photo
/// fits; a "decompression bomb" does not).
const MAX_SIDE: u32 = 20_000;
/// Most memory one decode may take.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    #[error("{0} has no thumbnail")]
    NotAnImage(String),
    #[error("the photo cannot be decoded: {0}")]
    Decode(#[from] image::ImageError),
}

/// The image formats thumbnails are made of.
pub fn format_of(media_type: &str) -> Option<ImageFormat> {
    match media_type {
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// Make the thumbnail of a photo (CPU-bound: call on a blocking thread).
pub fn make(bytes: &[u8], media_type: &str) -> Result<Vec<u8>, ThumbnailError> {
    let format =
        format_of(media_type).ok_or_else(|| ThumbnailError::NotAnImage(media_type.to_owned()))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode()?;
    // Never enlarged: a photo already within the edge keeps its size.
    let small = if img.width() <= EDGE && img.height() <= EDGE {
        img.into_rgb8()
    } else {
        img.thumbnail(EDGE, EDGE).into_rgb8()
    };
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
    small.write_with_encoder(encoder)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_thumbnail_keeps_the_aspect_within_the_edge() {
        let thumb = make(&png(1600, 900), "image/png").unwrap();
        let img = image::load_from_memory_with_format(&thumb, ImageFormat::Jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (320, 180));
        assert!(super::super::looks_like(&thumb, "image/jpeg"));
    }

    #[test]
    fn a_small_photo_is_not_enlarged() {
        let thumb = make(&png(160, 120), "image/png").unwrap();
        let img = image::load_from_memory_with_format(&thumb, ImageFormat::Jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (160, 120));
    }

    #[test]
    fn refuses_what_is_not_a_photo() {
        assert!(matches!(
            make(b"%PDF-1.7", "application/pdf"),
            Err(ThumbnailError::NotAnImage(_))
        ));
        assert!(matches!(
            make(b"not a png at all", "image/png"),
            Err(ThumbnailError::Decode(_))
        ));
    }
}
