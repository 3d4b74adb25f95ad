//! Product pictures from the owner's phone: the type is read from the bytes (not the file name or
//! the browser's word), the size and pixel count are bounded before decoding, the picture is
//! turned upright (phones store the camera's orientation in EXIF), cropped to the shop's 4:3
//! frame and re-encoded as JPEG in two web sizes. Files are named by a hash of their content, so
//! they never change and are served with a year-long cache.
//!
//! The stored files are the re-encoded ones only: whatever else the upload carried (EXIF with
//! the phone's GPS position, say) is dropped.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// The largest upload taken (a phone's camera picture is 2–8 MB).
pub const MAX_UPLOAD_BYTES: usize = 15 * 1024 * 1024;
/// No side longer than this is decoded (a 48-megapixel phone picture is 8,064 px wide).
const MAX_SIDE: u32 = 10_000;
/// Nor smaller than this: it would look blurred even on the listing.
const MIN_SIDE: u32 = 200;
/// The most a decoded picture may take in memory: a 48-megapixel phone photo in 8-bit RGB
/// (8,064 × 6,048 × 3 = 146 MB) fits; a 10,000 × 10,000 16-bit RGBA PNG (800 MB, from a 777 kB
/// file) does not. Checked against the picture's header before anything is decoded. Turning it
/// upright can hold a second copy for a moment, so one decode peaks near twice this.
pub const MAX_DECODED_BYTES: u64 = 150_000_000;
/// The decoder's own allocation limit (the `image` crate's, for its buffers beyond the picture).
const MAX_DECODE_BYTES: u64 = 2 * MAX_DECODED_BYTES;
/// How long an upload waits for the picture before it to be done; then it is told to try again.
const DECODE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);
/// One picture is decoded at a time: a stolen or careless owner's session that sends many at
/// once costs one decode's memory, and the rest wait their turn (or are told to try again).
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
const JPEG_QUALITY: u8 = 80;

/// The web sizes every picture is stored in: (name, width, height), all 4:3 like the shop's
/// picture frames. Pages offer all three in a `srcset` and the phone picks the one its screen
/// needs: the catalogue's cards take the 320 or 640 px one, the product page 640 or 1280.
/// (Listed in the order they were introduced: `xs` came last, see [`add_missing_smallest`].)
pub const SIZES: [(&str, u32, u32); 3] = [("s", 640, 480), ("l", 1280, 960), ("xs", 320, 240)];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    #[error("Choose a JPEG, PNG or WebP picture; this file is {0}.")]
    WrongType(String),
    #[error("The picture is larger than 15 MB; choose a smaller one.")]
    TooLarge,
    #[error("The picture is {width} × {height} pixels; it must be between {min} and 10,000 pixels on each side.")]
    BadDimensions { width: u32, height: u32, min: u32 },
    /// Its sides are allowed, but decoded it would take more than [`MAX_DECODED_BYTES`].
    #[error("The picture is {width} × {height} pixels of {megabytes} MB decoded; at most 150 MB.")]
    TooManyPixels {
        width: u32,
        height: u32,
        megabytes: u64,
    },
    /// Another picture is being decoded, and this one waited its turn too long.
    #[error("another picture is being processed")]
    Busy,
    #[error("This picture cannot be read ({0}); try another.")]
    Unreadable(String),
    #[error("No picture was chosen.")]
    Empty,
}

impl PictureError {
    /// What the owner is told, in her language (`Display` is the log's English).
    pub fn said(&self, lang: app::language::Language) -> String {
        match self {
            PictureError::WrongType(kind) => app::tr!(lang, admin_err_picture_type, kind = kind),
            PictureError::TooLarge => app::tr!(lang, admin_err_picture_large),
            PictureError::BadDimensions { width, height, min } => app::tr!(
                lang,
                admin_err_picture_size,
                width = width,
                height = height,
                min = min
            ),
            PictureError::TooManyPixels {
                width,
                height,
                megabytes,
            } => app::tr!(
                lang,
                admin_err_picture_pixels,
                width = width,
                height = height,
                megabytes = megabytes
            ),
            PictureError::Busy => app::tr!(lang, admin_err_picture_busy),
            PictureError::Unreadable(why) => {
                app::tr!(lang, admin_err_picture_unreadable, why = why)
            }
            PictureError::Empty => app::tr!(lang, admin_err_picture_none),
        }
    }

    /// The owner's answer: 413 for a picture too large, 503 while another is being decoded,
    /// else 422.
    pub fn refusal(&self, lang: app::language::Language) -> super::AdminError {
        match self {
            PictureError::TooLarge | PictureError::TooManyPixels { .. } => {
                super::AdminError::TooLarge(self.said(lang))
            }
            PictureError::Busy => super::AdminError::Busy(self.said(lang)),
            _ => super::AdminError::BadInput(self.said(lang)),
        }
    }
}

/// Runs `work` (a decode and what is made of it) on a blocking thread once no other picture is
/// being decoded ([`DECODES`]); waits at most [`DECODE_WAIT`] for its turn.
pub async fn one_at_a_time<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PictureError> {
    let permit = tokio::time::timeout(DECODE_WAIT, DECODES.acquire())
        .await
        .map_err(|_| PictureError::Busy)?
        .map_err(|_| PictureError::Busy)?;
    let done = tokio::task::spawn_blocking(work).await;
    drop(permit);
    done.map_err(|e| PictureError::Unreadable(format!("the decoder stopped: {e}")))
}

/// A picture turned into its web sizes, ready to store.
pub struct WebPicture {
    /// Names the content: the same upload gives the same files.
    pub id: String,
    /// JPEG bytes for each of [`SIZES`], in that order.
    pub files: Vec<Vec<u8>>,
}

impl WebPicture {
    /// The file name of one size (`<id>-s.jpg`).
    pub fn file_name(&self, size: &str) -> String {
        format!("{}-{size}.jpg", self.id)
    }
}

/// Checks and converts one upload. CPU-heavy (tens to hundreds of milliseconds): run it off the
/// async workers.
pub fn process(bytes: &[u8]) -> Result<WebPicture, PictureError> {
    let picture = decode(bytes, MIN_SIDE)?;
    let mut files = Vec::with_capacity(SIZES.len());
    for (_, w, h) in SIZES {
        let sized = picture.resize_to_fill(w, h, image::imageops::FilterType::Triangle);
        let mut out = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        DynamicImage::ImageRgb8(sized.to_rgb8())
            .write_with_encoder(encoder)
            .map_err(|e| PictureError::Unreadable(e.to_string()))?;
        files.push(out);
    }
    let digest = Sha256::digest(bytes);
    Ok(WebPicture {
        id: hex::encode(&digest[..16]),
        files,
    })
}

/// One of the shop's own pictures (a logo, a payment QR code), checked like a product's but
/// never cropped: scaled down to fit `max_side` and stored as PNG, which keeps a QR code's edges
/// sharp. Returns its name (a hash of the stored bytes) and the bytes.
pub fn process_shop_picture(
    bytes: &[u8],
    max_side: u32,
) -> Result<(String, Vec<u8>), PictureError> {
    let picture = decode(bytes, SHOP_PICTURE_MIN_SIDE)?;
    let picture = if picture.width() > max_side || picture.height() > max_side {
        picture.resize(max_side, max_side, image::imageops::FilterType::Triangle)
    } else {
        picture
    };
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(picture.to_rgba8())
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|e| PictureError::Unreadable(e.to_string()))?;
    let digest = Sha256::digest(&out);
    Ok((hex::encode(&digest[..16]), out))
}

/// The smallest side of a logo or payment code taken (a logo is shown at 32 px).
const SHOP_PICTURE_MIN_SIDE: u32 = 32;

/// An upload read into a picture, upright, after every check: its type read from its bytes, its
/// size, and its sides between `min_side` and [`MAX_SIDE`] before it is decoded.
fn decode(bytes: &[u8], min_side: u32) -> Result<DynamicImage, PictureError> {
    if bytes.is_empty() {
        return Err(PictureError::Empty);
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(PictureError::TooLarge);
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PictureError::Unreadable(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        Some(other) => {
            return Err(PictureError::WrongType(
                (*other.extensions_str().first().unwrap_or(&"another kind")).to_owned(),
            ))
        }
        None if looks_like_heic(bytes) => {
            return Err(PictureError::WrongType(
                "HEIC (set the camera to “Most Compatible”, or share it as JPEG)".to_owned(),
            ))
        }
        None => return Err(PictureError::WrongType("not a picture".to_owned())),
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if width < min_side || height < min_side || width > MAX_SIDE || height > MAX_SIDE {
        return Err(PictureError::BadDimensions {
            width,
            height,
            min: min_side,
        });
    }
    // `into_decoder` + `from_decoder` never check the reader's limits (only `decode()` does):
    // the picture's size from its header is checked here, and the limits handed to the decoder
    let decoded = decoder.total_bytes();
    if decoded > MAX_DECODED_BYTES {
        return Err(PictureError::TooManyPixels {
            width,
            height,
            megabytes: decoded.div_ceil(1_000_000),
        });
    }
    decoder.set_limits(limits).map_err(decode_error)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    picture.apply_orientation(orientation);
    Ok(picture)
}

fn decode_error(e: image::ImageError) -> PictureError {
    match e {
        image::ImageError::Limits(_) => PictureError::TooLarge,
        other => PictureError::Unreadable(other.to_string()),
    }
}

/// iPhones' default format: an ISO box `ftyp` with a HEIF brand.
fn looks_like_heic(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp")
        && bytes
            .get(8..12)
            .is_some_and(|b| matches!(b, b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc"))
}

/// Writes every size into `dir` (created if missing): each to a temporary name, synced, then
/// renamed, so a reader never sees half a file. Returns the URL path of each size.
pub fn store(dir: &Path, picture: &WebPicture) -> std::io::Result<Vec<String>> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut urls = Vec::with_capacity(SIZES.len());
    for ((size, ..), bytes) in SIZES.iter().zip(&picture.files) {
        let name = picture.file_name(size);
        let path = dir.join(&name);
        if !path.exists() {
            let tmp: PathBuf = dir.join(format!(".{name}.tmp"));
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
        }
        urls.push(format!("/media/{name}"));
    }
    Ok(urls)
}

/// Makes the 320 px size of every stored picture that predates it, from its 640 px size (run at
/// start, off the async workers). Returns how many were made.
pub fn add_missing_smallest(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut made = 0;
    for entry in entries {
        let path = entry?.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix("-s.jpg"))
        else {
            continue;
        };
        let smallest = dir.join(format!("{id}-xs.jpg"));
        if smallest.exists() {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let Ok(picture) = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg) else {
            tracing::warn!(file = %path.display(), "a stored picture could not be read");
            continue;
        };
        let (_, w, h) = SIZES[2];
        let sized = picture.resize_to_fill(w, h, image::imageops::FilterType::Triangle);
        let mut out = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        if DynamicImage::ImageRgb8(sized.to_rgb8())
            .write_with_encoder(encoder)
            .is_err()
        {
            continue;
        }
        let tmp = dir.join(format!(".{id}-xs.jpg.tmp"));
        std::fs::write(&tmp, &out)?;
        std::fs::rename(&tmp, &smallest)?;
        made += 1;
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use image::{ImageBuffer, Rgb};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = ImageBuffer::from_fn(width, height, |x, _| Rgb([(x % 256) as u8, 90, 160]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_picture_becomes_three_jpegs_in_the_shops_frame() {
        let picture = process(&png(900, 1600)).unwrap();
        assert_eq!(picture.files.len(), 3);
        for (bytes, (_, w, h)) in picture.files.iter().zip(SIZES) {
            let decoded = image::load_from_memory(bytes).unwrap();
            assert_eq!(image::guess_format(bytes).unwrap(), ImageFormat::Jpeg);
            assert_eq!((decoded.width(), decoded.height()), (w, h));
        }
        assert_eq!(picture.id.len(), 32);
        assert_eq!(
            process(&png(900, 1600)).unwrap().id,
            picture.id,
            "named by content"
        );
    }

    #[test]
    fn a_phone_picture_is_turned_upright_by_its_exif_orientation() {
        use image::ImageEncoder;
        // landscape pixels, left half red and right half blue, that the camera marks
        // "rotate 90° clockwise to show" (EXIF orientation 6): upright, red is on top
        let img = ImageBuffer::from_fn(800, 600, |x, _| {
            if x < 400 {
                Rgb([220_u8, 20, 20])
            } else {
                Rgb([20_u8, 20, 220])
            }
        });
        let exif = [
            b'M', b'M', 0, 42, 0, 0, 0, 8, // big-endian TIFF, first IFD at 8
            0, 1, // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation, SHORT, 1, = 6
            0, 0, 0, 0, // no next IFD
        ];
        let mut jpeg = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
        encoder.set_exif_metadata(exif.to_vec()).unwrap();
        encoder
            .write_image(img.as_raw(), 800, 600, image::ExtendedColorType::Rgb8)
            .unwrap();

        let picture = process(&jpeg).unwrap();
        let small = image::load_from_memory(&picture.files[0])
            .unwrap()
            .to_rgb8();
        let (top, bottom) = (small.get_pixel(100, 30), small.get_pixel(100, 450));
        assert!(top[0] > 150 && top[2] < 100, "top is red: {top:?}");
        assert!(
            bottom[2] > 150 && bottom[0] < 100,
            "bottom is blue: {bottom:?}"
        );
        // and nothing of the camera's metadata is kept
        assert!(!picture.files[0].windows(4).any(|w| w == b"Exif"));
    }

    #[test]
    fn pictures_stored_before_the_smallest_size_get_it_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let picture = process(&png(900, 700)).unwrap();
        store(dir.path(), &picture).unwrap();
        let smallest = dir.path().join(picture.file_name("xs"));
        // as a shop upgraded from before: only the 640 and 1280 px files
        std::fs::remove_file(&smallest).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"not a picture").unwrap();
        assert_eq!(add_missing_smallest(dir.path()).unwrap(), 1);
        let made = image::load_from_memory(&std::fs::read(&smallest).unwrap()).unwrap();
        assert_eq!((made.width(), made.height()), (320, 240));
        assert_eq!(add_missing_smallest(dir.path()).unwrap(), 0, "done once");
        assert_eq!(
            add_missing_smallest(&dir.path().join("missing")).unwrap(),
            0
        );
    }

    #[test]
    fn what_is_not_a_picture_is_refused_by_its_bytes() {
        assert!(matches!(
            process(b"GIF89a\x01\x00\x01\x00"),
            Err(PictureError::WrongType(_))
        ));
        assert!(matches!(
            process(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Err(PictureError::WrongType(_))
        ));
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic");
        heic.extend_from_slice(&[0; 16]);
        let Err(PictureError::WrongType(what)) = process(&heic) else {
            panic!("HEIC must be named");
        };
        assert!(what.contains("HEIC"));
        assert_eq!(process(b"").err(), Some(PictureError::Empty));
    }

    #[test]
    fn tiny_truncated_and_oversized_uploads_are_refused() {
        assert!(matches!(
            process(&png(120, 90)),
            Err(PictureError::BadDimensions { .. })
        ));
        let whole = png(400, 300);
        assert!(matches!(
            process(&whole[..whole.len() / 2]),
            Err(PictureError::Unreadable(_))
        ));
        let mut huge = png(400, 300);
        huge.resize(MAX_UPLOAD_BYTES + 1, 0);
        assert_eq!(process(&huge).err(), Some(PictureError::TooLarge));
    }

    /// A real 16-bit RGBA PNG of `side` × `side` (one colour: it compresses to almost nothing).
    fn deep_png(side: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        let row = vec![0u8; side as usize * 8];
        let rows = (0..side)
            .flat_map(|_| row.iter().copied())
            .collect::<Vec<u8>>();
        image::ImageEncoder::write_image(
            encoder,
            &rows,
            side,
            side,
            image::ExtendedColorType::Rgba16,
        )
        .unwrap();
        out
    }

    #[test]
    fn a_picture_too_large_to_hold_decoded_is_refused_from_its_header() {
        // 4,500 × 4,500 × 8 bytes = 162 MB decoded, from a file of ~150 kB
        let deep = deep_png(4_500);
        assert!(deep.len() < 1_000_000, "{}", deep.len());
        assert_eq!(
            process(&deep).err(),
            Some(PictureError::TooManyPixels {
                width: 4_500,
                height: 4_500,
                megabytes: 162
            })
        );
        // the same size in 8-bit RGB (61 MB) is taken
        assert!(process(&png(4_500, 4_500)).is_ok());
    }

    #[tokio::test]
    async fn pictures_are_decoded_one_at_a_time() {
        let (started, finished) = (
            std::time::Instant::now(),
            std::sync::Arc::new(std::sync::Mutex::new(Vec::new())),
        );
        let runs = (0..3).map(|_| {
            let finished = finished.clone();
            one_at_a_time(move || {
                let began = std::time::Instant::now();
                std::thread::sleep(std::time::Duration::from_millis(100));
                finished
                    .lock()
                    .unwrap()
                    .push((began, std::time::Instant::now()));
            })
        });
        for run in futures::future::join_all(runs).await {
            run.unwrap();
        }
        let mut spans = finished.lock().unwrap().clone();
        spans.sort();
        for pair in spans.windows(2) {
            assert!(pair[1].0 >= pair[0].1, "two decodes overlapped: {spans:?}");
        }
        assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    }

    #[test]
    fn a_png_claiming_to_be_enormous_is_refused_before_decoding() {
        // a valid header saying 60,000 × 60,000 pixels (a decompression bomb's first move)
        let mut bomb = png(400, 300);
        bomb[16..20].copy_from_slice(&60_000_u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&60_000_u32.to_be_bytes());
        assert!(matches!(
            process(&bomb),
            Err(PictureError::TooLarge | PictureError::Unreadable(_))
        ));
    }
}
