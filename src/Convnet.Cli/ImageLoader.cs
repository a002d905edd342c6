using Convnet.Data;
using SkiaSharp;

namespace Convnet.Cli;

/// <summary>Decodes PNG/JPEG (and whatever else Skia reads) to grayscale in [0, 1], transparency over white.</summary>
internal static class ImageLoader
{
    /// <exception cref="UserError">
    /// The file is missing, is no image Skia reads, claims more than <see cref="DigitImage.MaxPixels"/>
    /// pixels (refused from its header, before anything is decoded or allocated), or is truncated or corrupt.
    /// </exception>
    public static (float[] Gray, int Width, int Height) LoadGray(string path)
    {
        Cli.CheckExists(path, "image");
        using var codec = SKCodec.Create(path) ?? throw new UserError($"{path}: not an image this build can decode (PNG, JPEG, GIF, BMP, WebP)");
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1)
        {
            throw new UserError($"{path}: the image claims a size of {width}×{height}");
        }
        if ((long)width * height > DigitImage.MaxPixels)
        {
            throw new UserError($"{path}: image of {width}×{height} pixels is larger than the {DigitImage.MaxPixels / 1_000_000} megapixels accepted; scale it down");
        }
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        // The SKBitmap(info) constructor throws a bare Exception when the pixels cannot be had
        // (found by fuzzing: a 145-byte WBMP claiming 1232×6343 under afl-fuzz's memory limit).
        using var bitmap = new SKBitmap();
        if (!bitmap.TryAllocPixels(info))
        {
            throw new UserError($"{path}: not enough memory to decode an image of {width}×{height}");
        }
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not SKCodecResult.Success)
        {
            // IncompleteInput: the file ends early (Skia fills the rest); ErrorInInput: corrupt data.
            throw new UserError(result switch
            {
                SKCodecResult.IncompleteInput => $"{path}: the image is truncated (its data ends before the last row)",
                SKCodecResult.ErrorInInput => $"{path}: the image is corrupt (its data cannot be decoded)",
                _ => $"{path}: cannot decode the image ({result})",
            });
        }
        var bytes = bitmap.GetPixelSpan();
        var gray = new float[width * height];
        for (int i = 0; i < gray.Length; i++)
        {
            float r = bytes[4 * i], g = bytes[4 * i + 1], b = bytes[4 * i + 2], a = bytes[4 * i + 3] / 255f;
            float luma = (0.299f * r + 0.587f * g + 0.114f * b) / 255f;
            gray[i] = a * luma + (1 - a);
        }
        return (gray, width, height);
    }
}
