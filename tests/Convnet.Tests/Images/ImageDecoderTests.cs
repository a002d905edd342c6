using Convnet.Data;
using Convnet.Images;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Images;

public sealed class ImageDecoderTests : IDisposable
{
    // A 16×8 CMYK JPEG (Adobe marker), left half cyan (C=255), right half magenta (M=255), made once with
    // Debian's python3-pil: Image.new('CMYK', (16, 8)) filled so, then .save('cmyk.jpg', quality=100).
    private const string CmykJpeg =
        "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwABAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB/8AAFAgACAAQBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwD/AD/6/v4r+/iv7+K/3+K/wB6KK//Z";

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Png_round_trips_exactly_in_gray_and_rgb()
    {
        var gray = ImageTrees.Noise(7, 5, 1, seed: 1);
        var rgb = ImageTrees.Noise(7, 5, 3, seed: 2);
        string g = ImageTrees.WritePng(_dir.File("g.png"), gray, 7, 5, 1);
        string c = ImageTrees.WritePng(_dir.File("c.png"), rgb, 7, 5, 3);

        Assert.Equal(gray, ImageDecoder.Decode(g, 1));
        Assert.Equal(rgb, ImageDecoder.Decode(c, 3));
        Assert.Equal(new ImageInfo(5, 7) { IsGrayscale = true }, ImageDecoder.ReadInfo(g));
        Assert.False(ImageDecoder.ReadInfo(c).IsGrayscale);
    }

    [Fact]
    public void Gray_read_as_rgb_repeats_the_value_and_rgb_read_as_gray_uses_the_luma_weights()
    {
        var gray = ImageTrees.Noise(4, 6, 1, seed: 3);
        var rgb = ImageTrees.Noise(4, 6, 3, seed: 4);
        string g = ImageTrees.WritePng(_dir.File("g.png"), gray, 4, 6, 1);
        string c = ImageTrees.WritePng(_dir.File("c.png"), rgb, 4, 6, 3);

        var asRgb = ImageDecoder.Decode(g, 3);
        var asGray = ImageDecoder.Decode(c, 1);

        for (int p = 0; p < 24; p++)
        {
            Assert.Equal([gray[p], gray[p], gray[p]], asRgb[(3 * p)..(3 * p + 3)]);
            double luma = 0.299 * rgb[3 * p] + 0.587 * rgb[3 * p + 1] + 0.114 * rgb[3 * p + 2];
            Assert.Equal((int)Math.Round(luma, MidpointRounding.AwayFromZero), asGray[p]);
        }
    }

    [Fact]
    public void A_gray_with_alpha_png_is_composited_over_white()
    {
        // Gray 0 at alpha 255, 128 and 0; gray 200 at alpha 51.
        ushort[] samples = [0, 255, 0, 128, 0, 0, 200, 51];
        string path = _dir.Write("ga.png", ImageTrees.RawPng(4, 1, colourType: 4, bitDepth: 8, samples));

        var gray = ImageDecoder.Decode(path, 1);

        Assert.Equal([0, 127, 255, (byte)Math.Round((200 * 51 + 255 * 204) / 255.0)], gray);
        Assert.Equal(gray.SelectMany(v => new[] { v, v, v }).ToArray(), ImageDecoder.Decode(path, 3));
    }

    [Fact]
    public void A_16_bit_png_reads_as_its_high_bytes()
    {
        var gray = ImageTrees.Noise(3, 5, 1, seed: 5);
        var rgb = ImageTrees.Noise(3, 5, 3, seed: 6);
        string g = _dir.Write("g16.png", ImageTrees.RawPng(5, 3, colourType: 0, bitDepth: 16, [.. gray.Select(v => (ushort)(v * 257))]));
        string c = _dir.Write("c16.png", ImageTrees.RawPng(5, 3, colourType: 2, bitDepth: 16, [.. rgb.Select(v => (ushort)(v * 257))]));

        Assert.Equal(gray, ImageDecoder.Decode(g, 1));
        Assert.Equal(rgb, ImageDecoder.Decode(c, 3));
    }

    [Fact]
    public void A_cmyk_jpeg_decodes_to_its_rgb_colours()
    {
        string path = _dir.Write("cmyk.jpg", Convert.FromBase64String(CmykJpeg));

        var rgb = ImageDecoder.Decode(path, 3);

        Assert.Equal(new ImageInfo(16, 8), ImageDecoder.ReadInfo(path));
        AssertNear([0, 255, 255], rgb.AsSpan(3 * (4 * 16 + 2), 3), tolerance: 8);   // cyan
        AssertNear([255, 0, 255], rgb.AsSpan(3 * (4 * 16 + 13), 3), tolerance: 8);  // magenta
    }

    private static void AssertNear(byte[] expected, ReadOnlySpan<byte> actual, int tolerance)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"channel {i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public void Jpeg_encoding_keeps_a_smooth_image_close_and_gray_stays_gray()
    {
        var pixels = new byte[32 * 32 * 3];
        for (int y = 0; y < 32; y++)
        {
            for (int x = 0; x < 32; x++)
            {
                pixels[(y * 32 + x) * 3] = (byte)(x * 8);
                pixels[(y * 32 + x) * 3 + 1] = (byte)(y * 8);
                pixels[(y * 32 + x) * 3 + 2] = 100;
            }
        }
        string path = _dir.Write("c.jpg", ImageDecoder.EncodeJpeg(pixels, 32, 32, 3, quality: 95));
        string gray = _dir.Write("g.jpg", ImageDecoder.EncodeJpeg(pixels.Where((_, i) => i % 3 == 0).ToArray(), 32, 32, 1));

        var back = ImageDecoder.Decode(path, 3);

        Assert.True(back.Zip(pixels).Max(p => Math.Abs(p.First - p.Second)) <= 12);
        Assert.True(ImageDecoder.ReadInfo(gray).IsGrayscale);
        Assert.False(ImageDecoder.HasColor(ImageDecoder.Decode(gray, 3)));
    }

    [Fact]
    public void Resizing_is_bilinear_with_half_pixel_centres()
    {
        // 1×2 → 1×4: output centres at input x = -0.25, 0.25, 0.75, 1.25 (clamped to [0, 1]).
        string path = ImageTrees.WritePng(_dir.File("two.png"), [0, 200], 1, 2, 1);

        Assert.Equal([0, 50, 150, 200], ImageDecoder.Decode(path, 1, height: 1, width: 4));
        Assert.Equal([100], ImageDecoder.Decode(path, 1, height: 1, width: 1));
        Assert.Equal([0, 50, 150, 200, 0, 50, 150, 200], ImageDecoder.Decode(path, 1, height: 2, width: 4));
    }

    [Fact]
    public void Resizing_a_uniform_image_keeps_its_value_and_decode_into_fills_the_span()
    {
        string path = ImageTrees.WriteFlat(_dir.File("flat.png"), 37, 23, channels: 3, value: 77);
        var into = new byte[9 * 11 * 3];

        ImageDecoder.DecodeInto(path, 3, 9, 11, into);

        Assert.All(into, v => Assert.Equal(77, v));
        Assert.Throws<ArgumentException>(() => ImageDecoder.DecodeInto(path, 3, 9, 11, new byte[10]));
        Assert.Throws<ArgumentException>(() => ImageDecoder.Decode(path, 3, height: 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageDecoder.Decode(path, 2));
    }

    [Fact]
    public void Has_color_is_any_pixel_whose_channels_differ()
    {
        Assert.False(ImageDecoder.HasColor([]));
        Assert.False(ImageDecoder.HasColor([5, 5, 5, 200, 200, 200]));
        Assert.True(ImageDecoder.HasColor([5, 5, 5, 200, 200, 201]));
        Assert.True(ImageDecoder.HasColor([6, 5, 5]));
        Assert.Throws<ArgumentException>(() => ImageDecoder.HasColor([1, 2]));
    }

    [Fact]
    public void Truncated_corrupt_missing_and_non_image_files_are_refused_naming_the_file()
    {
        string good = ImageTrees.WritePng(_dir.File("good.png"), ImageTrees.Noise(40, 40, 3, seed: 7), 40, 40, 3);
        string cut = ImageTrees.Truncated(good, _dir.File("cut.png"), File.ReadAllBytes(good).Length / 2);
        string text = _dir.Write("text.png", "label,pixel0\n1,2\n");
        string empty = _dir.Write("empty.jpg", "");

        Assert.Equal($"{cut}: the image is truncated (its data ends before the last row)", Assert.Throws<DataFormatException>(() => ImageDecoder.Decode(cut, 3)).Message);
        Assert.Equal($"{text}: not an image this build can decode ({ImageDecoder.Formats})", Assert.Throws<DataFormatException>(() => ImageDecoder.ReadInfo(text)).Message);
        Assert.Equal($"{empty}: the file is empty, not an image", Assert.Throws<DataFormatException>(() => ImageDecoder.Decode(empty, 1)).Message);
        string missing = _dir.File("missing.png");
        Assert.Equal($"{missing}: file not found", Assert.Throws<DataFormatException>(() => ImageDecoder.ReadInfo(missing)).Message);
        Assert.Equal($"{_dir.Path}: is a folder, not an image", Assert.Throws<DataFormatException>(() => ImageDecoder.ReadInfo(_dir.Path)).Message);
    }

    [Fact]
    public void A_broken_symbolic_link_says_where_it_points()
    {
        string link = _dir.File("link.png");
        File.CreateSymbolicLink(link, _dir.File("gone.png"));

        var e = Assert.Throws<DataFormatException>(() => ImageDecoder.ReadInfo(link));

        Assert.Equal($"{link}: a symbolic link to '{_dir.File("gone.png")}', which does not exist", e.Message);
    }
}
