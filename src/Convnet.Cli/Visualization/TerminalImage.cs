using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Convnet.Cli.Visualization;

/// <summary>
/// An image drawn in the terminal, scaled down (by area averaging) to at most
/// <see cref="MaxRows"/> lines and <see cref="MaxColumns"/> columns (or the terminal's width).
/// With colour, each character is two pixels, the upper one the foreground of '▀' and the lower
/// one its background, in 24-bit colour (Spectre turns it into the nearest colour a lesser
/// terminal has); without, each pixel is two shade characters (' ░▒▓█', by brightness) on one line.
/// Either way a pixel is about as wide as it is high.
/// </summary>
internal static class TerminalImage
{
    public const int MaxRows = 32;
    public const int MaxColumns = 64;
    private const string Shades = " ░▒▓█";

    /// <summary>Draws pixels ([height, width, channels], channels 1 or 3) in colour when the console has it, else in shades.</summary>
    public static void Write(IAnsiConsole console, ReadOnlySpan<byte> pixels, int height, int width, int channels)
    {
        var capabilities = console.Profile.Capabilities;
        int columns = Math.Clamp(console.Profile.Width, 2, MaxColumns);
        if (capabilities.Ansi && capabilities.ColorSystem >= ColorSystem.Standard)
        {
            console.Write(HalfBlocks(pixels, height, width, channels, columns));
        }
        else
        {
            console.Write(new Text(ShadeText(pixels, height, width, channels, columns)));
        }
    }

    /// <summary>The image in '▀' characters coloured two pixels each, at most <paramref name="columns"/> wide and <see cref="MaxRows"/> lines.</summary>
    public static IRenderable HalfBlocks(ReadOnlySpan<byte> pixels, int height, int width, int channels, int columns)
    {
        var (h, w) = FitSize(height, width, columns, 2 * MaxRows);
        byte[] small = Downscale(pixels, height, width, channels, h, w);
        var paragraph = new Paragraph();
        for (int y = 0; y < h; y += 2)
        {
            for (int x = 0; x < w; x++)
            {
                var top = ColorAt(small, y, x, w, channels);
                // An odd last pixel row has nothing below it: the cell keeps the terminal's background.
                var style = y + 1 < h ? new Style(top, ColorAt(small, y + 1, x, w, channels)) : new Style(top);
                paragraph.Append("▀", style);
            }
            paragraph.Append("\n");
        }
        return paragraph;
    }

    /// <summary>The image in shade characters by brightness (' ' black to '█' white), two per pixel, at most <paramref name="columns"/> wide and <see cref="MaxRows"/> lines.</summary>
    public static string ShadeText(ReadOnlySpan<byte> pixels, int height, int width, int channels, int columns)
    {
        var (h, w) = FitSize(height, width, columns / 2, MaxRows);
        byte[] small = Downscale(pixels, height, width, channels, h, w);
        var sb = new StringBuilder();
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                int i = (y * w + x) * channels;
                float luma = channels == 1 ? small[i] : 0.299f * small[i] + 0.587f * small[i + 1] + 0.114f * small[i + 2];
                char c = Shades[Math.Clamp((int)(luma / 255f * (Shades.Length - 1) + 0.5f), 0, Shades.Length - 1)];
                sb.Append(c).Append(c);
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The largest size within maxWidth × maxHeight with the image's proportions; never larger than the image.</summary>
    public static (int Height, int Width) FitSize(int height, int width, int maxWidth, int maxHeight)
    {
        double scale = Math.Min(1.0, Math.Min((double)maxWidth / width, (double)maxHeight / height));
        return (Math.Clamp((int)Math.Round(height * scale), 1, height), Math.Clamp((int)Math.Round(width * scale), 1, width));
    }

    /// <summary>[height, width, channels] → [toHeight, toWidth, channels], each pixel the mean of the source pixels it covers.</summary>
    public static byte[] Downscale(ReadOnlySpan<byte> pixels, int height, int width, int channels, int toHeight, int toWidth)
    {
        if (pixels.Length != height * width * channels)
        {
            throw new ArgumentException($"{height}×{width}×{channels} needs {height * width * channels} values, got {pixels.Length}", nameof(pixels));
        }
        var result = new byte[toHeight * toWidth * channels];
        for (int ty = 0; ty < toHeight; ty++)
        {
            int y0 = ty * height / toHeight, y1 = Math.Max(y0 + 1, (ty + 1) * height / toHeight);
            for (int tx = 0; tx < toWidth; tx++)
            {
                int x0 = tx * width / toWidth, x1 = Math.Max(x0 + 1, (tx + 1) * width / toWidth);
                for (int c = 0; c < channels; c++)
                {
                    int sum = 0;
                    for (int y = y0; y < y1; y++)
                    {
                        for (int x = x0; x < x1; x++)
                        {
                            sum += pixels[(y * width + x) * channels + c];
                        }
                    }
                    int count = (y1 - y0) * (x1 - x0);
                    result[(ty * toWidth + tx) * channels + c] = (byte)((sum + count / 2) / count);
                }
            }
        }
        return result;
    }

    private static Color ColorAt(byte[] pixels, int y, int x, int width, int channels)
    {
        int i = (y * width + x) * channels;
        return channels == 1 ? new Color(pixels[i], pixels[i], pixels[i]) : new Color(pixels[i], pixels[i + 1], pixels[i + 2]);
    }
}
