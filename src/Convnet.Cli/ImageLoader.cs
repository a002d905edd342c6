using SkiaSharp;

namespace Convnet.Cli;

/// <summary>Decodes PNG/JPEG (and whatever else Skia reads) to grayscale in [0, 1], transparency over white.</summary>
internal static class ImageLoader
{
    public static (float[] Gray, int Width, int Height) LoadGray(string path)
    {
        Cli.CheckExists(path, "image");
        using var codec = SKCodec.Create(path) ?? throw new UserError($"{path}: not an image this build can decode (PNG, JPEG, GIF, BMP, WebP)");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if ((long)info.Width * info.Height > 50_000_000)
        {
            throw new UserError($"{path}: image of {info.Width}×{info.Height} is too large");
        }
        // The SKBitmap(info) constructor throws a bare Exception when the pixels cannot be had
        // (found by fuzzing: a 145-byte WBMP claiming 1232×6343 under afl-fuzz's memory limit).
        using var bitmap = new SKBitmap();
        if (!bitmap.TryAllocPixels(info))
        {
            throw new UserError($"{path}: not enough memory to decode an image of {info.Width}×{info.Height}");
        }
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
        {
            throw new UserError($"{path}: cannot decode image ({result})");
        }
        var bytes = bitmap.GetPixelSpan();
        var gray = new float[info.Width * info.Height];
        for (int i = 0; i < gray.Length; i++)
        {
            float r = bytes[4 * i], g = bytes[4 * i + 1], b = bytes[4 * i + 2], a = bytes[4 * i + 3] / 255f;
            float luma = (0.299f * r + 0.587f * g + 0.114f * b) / 255f;
            gray[i] = a * luma + (1 - a);
        }
        return (gray, info.Width, info.Height);
    }
}
