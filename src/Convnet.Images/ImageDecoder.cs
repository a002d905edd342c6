using System.Buffers;
using Convnet.Data;
using SkiaSharp;

namespace Convnet.Images;

/// <summary>How many channels images are read with; the value is the channel count.</summary>
public enum ColorMode
{
    /// <summary>One channel: round(0.299R + 0.587G + 0.114B).</summary>
    Grayscale = 1,
    /// <summary>Three channels, red, green, blue.</summary>
    Rgb = 3,
}

/// <summary>An image file's size, from its header.</summary>
public readonly record struct ImageInfo(int Width, int Height)
{
    /// <summary>
    /// True when the file stores gray values only (a grayscale PNG or JPEG): such an image has no
    /// colour whatever its pixels. False says nothing: an RGB file may still hold only grays.
    /// </summary>
    public bool IsGrayscale { get; init; }
}

/// <summary>
/// Decodes PNG, JPEG, BMP, GIF (the first frame) and WebP files through SkiaSharp into 8-bit HWC
/// bytes with 1 or 3 channels: transparency composited over white, gray as
/// round(0.299R + 0.587G + 0.114B) (exact for gray pixels), no colour management (the stored
/// values), resized with bilinear interpolation (half-pixel centres, no antialiasing: TensorFlow's
/// tf.image.resize, which Keras's image_dataset_from_directory uses) when the size asked for
/// differs from the file's. Every problem is a <see cref="DataFormatException"/> naming the file.
/// </summary>
public static class ImageDecoder
{
    /// <summary>
    /// The largest image read, in pixels (a 50-megapixel photo); larger ones are refused from their
    /// header, before anything is decoded or allocated.
    /// </summary>
    public const long MaxPixels = 50_000_000;

    /// <summary>The formats this build decodes, for messages.</summary>
    public const string Formats = "PNG, JPEG, GIF, BMP, WebP";

    /// <summary>The image's size from its header only.</summary>
    /// <exception cref="DataFormatException">The file is missing, unreadable, no image, or above <see cref="MaxPixels"/>.</exception>
    public static ImageInfo ReadInfo(string path)
    {
        using var image = Open(path);
        var codec = image.Codec;
        return new ImageInfo(codec.Info.Width, codec.Info.Height) { IsGrayscale = codec.Info.ColorType == SKColorType.Gray8 };
    }

    /// <summary>The size of an image held in memory (e.g. an upload), from its header only; <paramref name="name"/> names it in errors.</summary>
    /// <exception cref="DataFormatException">The bytes are no image, or one above <see cref="MaxPixels"/>.</exception>
    public static ImageInfo ReadInfo(ReadOnlySpan<byte> encoded, string name)
    {
        using var image = Open(encoded, name);
        var codec = image.Codec;
        return new ImageInfo(codec.Info.Width, codec.Info.Height) { IsGrayscale = codec.Info.ColorType == SKColorType.Gray8 };
    }

    /// <summary>
    /// An image held in memory (e.g. an upload) as bytes [height, width, channels], at its own size
    /// unless both <paramref name="height"/> and <paramref name="width"/> are given; <paramref name="name"/> names it in errors.
    /// </summary>
    /// <exception cref="DataFormatException">The bytes are no image, too large, truncated or corrupt.</exception>
    public static byte[] Decode(ReadOnlySpan<byte> encoded, string name, int channels, int? height = null, int? width = null)
    {
        CheckChannels(channels);
        CheckBoth(height, width);
        using var image = Open(encoded, name);
        var codec = image.Codec;
        int h = height ?? codec.Info.Height, w = width ?? codec.Info.Width;
        CheckSize(h, w);
        var pixels = new byte[(long)h * w * channels];
        DecodeInto(codec, name, channels, h, w, pixels);
        return pixels;
    }

    /// <summary>
    /// The image as bytes [height, width, channels], at the file's size unless both
    /// <paramref name="height"/> and <paramref name="width"/> are given.
    /// </summary>
    /// <exception cref="DataFormatException">The file is missing, no image, too large, truncated or corrupt.</exception>
    public static byte[] Decode(string path, int channels, int? height = null, int? width = null)
    {
        CheckChannels(channels);
        CheckBoth(height, width);
        using var image = Open(path);
        var codec = image.Codec;
        int h = height ?? codec.Info.Height, w = width ?? codec.Info.Width;
        CheckSize(h, w);
        var pixels = new byte[(long)h * w * channels];
        DecodeInto(codec, path, channels, h, w, pixels);
        return pixels;
    }

    /// <summary>Decodes the image into <paramref name="destination"/> [height, width, channels], resizing when the file's size differs.</summary>
    /// <exception cref="DataFormatException">The file is missing, no image, too large, truncated or corrupt.</exception>
    public static void DecodeInto(string path, int channels, int height, int width, Span<byte> destination)
    {
        CheckChannels(channels);
        CheckSize(height, width);
        if (destination.Length != (long)height * width * channels)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; {height}×{width}×{channels} needs {(long)height * width * channels}.", nameof(destination));
        }
        using var image = Open(path);
        var codec = image.Codec;
        DecodeInto(codec, path, channels, height, width, destination);
    }

    /// <summary>Whether any pixel of <paramref name="rgb"/> [pixels, 3] has R ≠ G or G ≠ B.</summary>
    public static bool HasColor(ReadOnlySpan<byte> rgb)
    {
        if (rgb.Length % 3 != 0)
        {
            throw new ArgumentException($"RGB bytes come in threes; got {rgb.Length}.", nameof(rgb));
        }
        for (int i = 0; i < rgb.Length; i += 3)
        {
            if (rgb[i] != rgb[i + 1] || rgb[i + 1] != rgb[i + 2])
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Lossless PNG of <paramref name="pixels"/> [height, width, channels] (a grayscale PNG for 1 channel).</summary>
    public static byte[] EncodePng(ReadOnlySpan<byte> pixels, int height, int width, int channels) =>
        Encode(pixels, height, width, channels, SKEncodedImageFormat.Png, 100);

    /// <summary>JPEG of <paramref name="pixels"/> [height, width, channels] at <paramref name="quality"/> 1-100 (a grayscale JPEG for 1 channel).</summary>
    public static byte[] EncodeJpeg(ReadOnlySpan<byte> pixels, int height, int width, int channels, int quality = 90)
    {
        if (quality is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(quality), quality, "The JPEG quality must be 1 to 100.");
        }
        return Encode(pixels, height, width, channels, SKEncodedImageFormat.Jpeg, quality);
    }

    private static unsafe byte[] Encode(ReadOnlySpan<byte> pixels, int height, int width, int channels, SKEncodedImageFormat format, int quality)
    {
        CheckChannels(channels);
        CheckSize(height, width);
        if (pixels.Length != (long)height * width * channels)
        {
            throw new ArgumentException($"{pixels.Length} bytes for an image of {height}×{width}×{channels}.", nameof(pixels));
        }
        // Skia has no packed 3-byte format: RGB goes in as RGBA with opaque alpha (and comes out as an RGB file).
        byte[] data = channels == 1 ? pixels.ToArray() : Rgba(pixels);
        var info = new SKImageInfo(width, height, channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        fixed (byte* p = data)
        {
            using var pixmap = new SKPixmap(info, (IntPtr)p, info.RowBytes);
            using var encoded = pixmap.Encode(format, quality)
                ?? throw new InvalidOperationException($"Skia could not encode a {height}×{width}×{channels} image as {format}.");
            return encoded.ToArray();
        }
    }

    private static byte[] Rgba(ReadOnlySpan<byte> rgb)
    {
        var rgba = new byte[rgb.Length / 3 * 4];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }
        return rgba;
    }

    private static void CheckChannels(int channels)
    {
        if (channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Images have 1 (grayscale) or 3 (RGB) channels.");
        }
    }

    private static void CheckBoth(int? height, int? width)
    {
        if (height.HasValue != width.HasValue)
        {
            throw new ArgumentException($"Give both height and width, or neither (got height {height?.ToString() ?? "null"}, width {width?.ToString() ?? "null"}).", height.HasValue ? nameof(width) : nameof(height));
        }
    }

    private static void CheckSize(int height, int width)
    {
        if (height < 1 || width < 1 || (long)height * width > MaxPixels)
        {
            throw new ArgumentOutOfRangeException(nameof(height), $"{height}×{width}", $"An image size must be positive and at most {MaxPixels} pixels.");
        }
    }

    /// <summary>A file's bytes and a codec over them.</summary>
    private sealed class OpenImage(SKData data, SKCodec codec) : IDisposable
    {
        public SKCodec Codec { get; } = codec;

        public void Dispose()
        {
            Codec.Dispose();
            data.Dispose();
        }
    }

    /// <summary>Files up to this size are read whole and decoded from memory (Skia's own file stream is slower for small files).</summary>
    private const long ReadWholeBelow = 256L << 20;

    /// <summary>A codec for the file, its size checked from the header; nothing decoded yet.</summary>
    private static OpenImage Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        SKData? data = null;
        try
        {
            var file = new FileInfo(path);
            data = file.Exists && file.Length < ReadWholeBelow ? SKData.CreateCopy(File.ReadAllBytes(path)) : SKData.Create(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            data?.Dispose();
            throw WhyNotOpened(path);
        }
        var codec = (data is null ? null : SKCodec.Create(data)) ?? throw Fail(data, WhyNotOpened(path));
        return Checked(data!, codec, path);
    }

    /// <summary>A codec over a copy of <paramref name="encoded"/>, its size checked from the header; nothing decoded yet.</summary>
    private static OpenImage Open(ReadOnlySpan<byte> encoded, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (encoded.IsEmpty)
        {
            throw new DataFormatException(name, "no bytes, not an image");
        }
        var data = SKData.CreateCopy(encoded);
        var codec = SKCodec.Create(data) ?? throw Fail(data, new DataFormatException(name, $"not an image this build can decode ({Formats})"));
        return Checked(data, codec, name);
    }

    /// <summary>Refuses, from the header, an image of no pixels or more than <see cref="MaxPixels"/>.</summary>
    private static OpenImage Checked(SKData data, SKCodec codec, string name)
    {
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1)
        {
            codec.Dispose();
            throw Fail(data, new DataFormatException(name, $"the image claims a size of {width}×{height}"));
        }
        if ((long)width * height > MaxPixels)
        {
            codec.Dispose();
            throw Fail(data, new DataFormatException(name, $"image of {width}×{height} pixels is larger than the {MaxPixels / 1_000_000} megapixels accepted; scale it down"));
        }
        return new OpenImage(data, codec);
    }

    private static Exception Fail(SKData? data, Exception e)
    {
        data?.Dispose();
        return e;
    }

    /// <summary>What <see cref="DecodeSlot"/> did with a file.</summary>
    internal enum SlotOutcome
    {
        /// <summary>Decoded into the slot.</summary>
        Decoded,
        /// <summary>Not decoded: the file's size is not the slot's and resizing was not allowed.</summary>
        OtherSize,
        /// <summary>Not decoded: asked for gray only, the image has colour.</summary>
        HasColour,
    }

    /// <summary>
    /// One open of the file for <see cref="ImageFolder"/>: its header, and the image decoded into
    /// <paramref name="destination"/> unless its size differs and <paramref name="resize"/> is false,
    /// or <paramref name="grayOnly"/> (with 1 channel) and the image has colour.
    /// </summary>
    internal static ImageInfo DecodeSlot(string path, int channels, int height, int width, bool resize, bool grayOnly, Span<byte> destination, out SlotOutcome outcome)
    {
        using var image = Open(path);
        var codec = image.Codec;
        var info = new ImageInfo(codec.Info.Width, codec.Info.Height) { IsGrayscale = codec.Info.ColorType == SKColorType.Gray8 };
        if (!resize && (info.Width != width || info.Height != height))
        {
            outcome = SlotOutcome.OtherSize;
            return info;
        }
        outcome = SlotOutcome.Decoded;
        if (!grayOnly || channels != 1 || info.IsGrayscale)
        {
            DecodeInto(codec, path, channels, height, width, destination);
            return info;
        }
        byte[] rgb = Rent((long)height * width * 3, path, width, height);
        try
        {
            var span = rgb.AsSpan(0, height * width * 3);
            DecodeInto(codec, path, 3, height, width, span);
            if (HasColor(span))
            {
                outcome = SlotOutcome.HasColour;
            }
            else
            {
                PixelConversion.GrayRgbToGray(span, destination);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgb);
        }
        return info;
    }

    /// <summary>Skia says only "no codec": tell a missing, unreadable or non-image file apart.</summary>
    private static DataFormatException WhyNotOpened(string path)
    {
        if (Directory.Exists(path))
        {
            return new DataFormatException(path, "is a folder, not an image");
        }
        var file = new FileInfo(path);
        if (file.LinkTarget is { } target && !File.Exists(Path.GetFullPath(target, Path.GetDirectoryName(file.FullName)!)))
        {
            return new DataFormatException(path, $"a symbolic link to '{target}', which does not exist");
        }
        if (!file.Exists)
        {
            return new DataFormatException(path, "file not found");
        }
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.Length == 0)
            {
                return new DataFormatException(path, "the file is empty, not an image");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new DataFormatException(path, "the file cannot be read (no permission, or an I/O error)", innerException: e);
        }
        return new DataFormatException(path, $"not an image this build can decode ({Formats})");
    }

    private static unsafe void DecodeInto(SKCodec codec, string path, int channels, int height, int width, Span<byte> destination)
    {
        int fileWidth = codec.Info.Width, fileHeight = codec.Info.Height;
        bool gray = codec.Info.ColorType == SKColorType.Gray8;
        int fileChannels = gray ? 1 : 4;
        int pixels = fileWidth * fileHeight;
        bool direct = gray && channels == 1 && fileWidth == width && fileHeight == height;
        byte[]? decoded = null;
        byte[]? converted = null;
        try
        {
            if (!direct)
            {
                decoded = Rent((long)pixels * fileChannels, path, fileWidth, fileHeight);
            }
            var info = new SKImageInfo(fileWidth, fileHeight, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, gray ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
            Span<byte> target = direct ? destination : decoded.AsSpan(0, pixels * fileChannels);
            SKCodecResult result;
            fixed (byte* p = target)
            {
                result = codec.GetPixels(info, (IntPtr)p);
            }
            if (result is not SKCodecResult.Success)
            {
                // IncompleteInput: the file ends early (Skia fills the rest); ErrorInInput: corrupt data.
                throw new DataFormatException(path, result switch
                {
                    SKCodecResult.IncompleteInput => "the image is truncated (its data ends before the last row)",
                    SKCodecResult.ErrorInInput => "the image is corrupt (its data cannot be decoded)",
                    _ => $"cannot decode the image ({result})",
                });
            }
            if (direct)
            {
                return;
            }
            bool resize = fileWidth != width || fileHeight != height;
            ReadOnlySpan<byte> source = target;
            ReadOnlySpan<byte> sameSize = source;
            if (!(gray && channels == 1))
            {
                Span<byte> output = destination;
                if (resize)
                {
                    converted = Rent((long)pixels * channels, path, fileWidth, fileHeight);
                    output = converted.AsSpan(0, pixels * channels);
                }
                if (gray)
                {
                    PixelConversion.GrayToRgb(source, output);
                }
                else if (channels == 1)
                {
                    PixelConversion.RgbaToGray(source, output);
                }
                else
                {
                    PixelConversion.RgbaToRgb(source, output);
                }
                sameSize = output;
            }
            if (resize)
            {
                PixelConversion.ResizeBilinear(sameSize, fileHeight, fileWidth, channels, height, width, destination);
            }
        }
        finally
        {
            if (decoded is not null)
            {
                ArrayPool<byte>.Shared.Return(decoded);
            }
            if (converted is not null)
            {
                ArrayPool<byte>.Shared.Return(converted);
            }
        }
    }

    /// <summary>A pooled buffer; running out of memory for it is the image's problem, named by its file.</summary>
    private static byte[] Rent(long bytes, string path, int width, int height)
    {
        try
        {
            return ArrayPool<byte>.Shared.Rent(checked((int)bytes));
        }
        catch (Exception e) when (e is OutOfMemoryException or OverflowException)
        {
            throw new DataFormatException(path, $"not enough memory to decode an image of {width}×{height}", innerException: e);
        }
    }
}
