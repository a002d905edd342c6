using SkiaSharp;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary>Decodes a PNG and checks it is a real picture: the size asked for and not one flat colour.</summary>
internal static class Png
{
    public const int MinWidth = 400;

    public static (int Width, int Height) Size(string path)
    {
        using var codec = SKCodec.Create(path);
        Assert.True(codec is not null, $"{path} does not decode");
        return (codec!.Info.Width, codec.Info.Height);
    }

    /// <summary>Asserts the file decodes as a PNG at least 400 px wide with real content; returns its size.</summary>
    public static (int Width, int Height) AssertPicture(string path, (int Width, int Height)? expected = null)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        var header = new byte[8];
        using (var file = File.OpenRead(path))
        {
            file.ReadExactly(header);
        }
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a }, header);
        using var bitmap = SKBitmap.Decode(path);
        Assert.True(bitmap is not null, $"{path} does not decode");
        Assert.True(bitmap!.Width >= MinWidth, $"{path} is {bitmap.Width} px wide, less than {MinWidth}");
        if (expected is { } size)
        {
            Assert.Equal(size, (bitmap.Width, bitmap.Height));
        }
        var (distinct, spread) = Contrast(bitmap);
        Assert.True(distinct >= 16, $"{path} has only {distinct} distinct colours");
        Assert.True(spread >= 8, $"{path} is nearly flat (luminance standard deviation {spread:F2})");
        return (bitmap.Width, bitmap.Height);
    }

    /// <summary>Distinct colours and the standard deviation of luminance (0-255).</summary>
    public static (int Distinct, double Spread) Contrast(SKBitmap bitmap)
    {
        var colours = new HashSet<uint>();
        double sum = 0, sumSquares = 0;
        int n = 0;
        for (int y = 0; y < bitmap.Height; y++)
        {
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                colours.Add((uint)c);
                double l = 0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue;
                sum += l;
                sumSquares += l * l;
                n++;
            }
        }
        double mean = sum / n;
        return (colours.Count, Math.Sqrt(Math.Max(0, sumSquares / n - mean * mean)));
    }
}
