//! LineageDB storage engine.
