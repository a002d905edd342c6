using Convnet.Data;
using SkiaSharp;

namespace Convnet.Cli.Visualization;

/// <summary>One line of text under an image.</summary>
internal readonly record struct Caption(string Text, SKColor Color, bool Bold = false);

/// <summary>One image of a grid: the data set's sample, its caption lines, and whether to frame it in red.</summary>
internal sealed record GridCell(int Sample, IReadOnlyList<Caption> Lines, bool Wrong = false);

/// <summary>An item of the key drawn under the title.</summary>
internal readonly record struct LegendEntry(string Text, SKColor Color);

/// <summary>Draws samples of a data set as a captioned grid (the <c>show</c> command and the report's galleries).</summary>
internal static class ImageGrid
{
    public const int MaxColumns = 16;
    private const int Margin = 16;
    private const int ImageSize = 84;
    private const int CellWidth = 132;
    private const int LineHeight = 16;
    private const float CaptionSize = 12.5f;
    private const int MinWidth = 480;

    /// <summary>Renders the grid as PNG bytes; the width is at least <see cref="MinWidth"/> pixels.</summary>
    public static byte[] Render(Dataset data, IReadOnlyList<GridCell> cells, string title, IReadOnlyList<LegendEntry> legend, int columns = 8)
    {
        if (cells.Count == 0)
        {
            throw new ArgumentException("a grid needs at least one image", nameof(cells));
        }
        columns = Math.Clamp(Math.Min(columns, cells.Count), 1, MaxColumns);
        int lines = cells.Max(c => c.Lines.Count);
        int cellHeight = ImageSize + 8 + lines * LineHeight + 10;
        int rows = (cells.Count + columns - 1) / columns;
        int gridWidth = columns * CellWidth;
        int width = Math.Max(MinWidth, gridWidth + 2 * Margin);
        int header = 34 + (legend.Count > 0 ? 24 : 0);
        int height = header + rows * cellHeight + Margin;

        using var surface = Drawing.CreateSurface(width, height);
        var canvas = surface.Canvas;
        using var titleFont = Drawing.Font(17, bold: true);
        using var captionFont = Drawing.Font(CaptionSize);
        using var captionBold = Drawing.Font(CaptionSize, bold: true);
        using var ink = Drawing.Fill(Drawing.Ink);
        canvas.DrawText(Drawing.Fit(title, titleFont, width - 2 * Margin), Margin, 24, SKTextAlign.Left, titleFont, ink);
        if (legend.Count > 0)
        {
            DrawLegend(canvas, legend, Margin, 50, captionFont);
        }

        int left = (width - gridWidth) / 2;
        using var frame = Drawing.Stroke(Drawing.Wrong, 3);
        using var thin = Drawing.Stroke(new SKColor(0xc8, 0xc8, 0xc8), 1);
        var sampling = new SKSamplingOptions(SKFilterMode.Nearest);
        for (int k = 0; k < cells.Count; k++)
        {
            var cell = cells[k];
            float x = left + k % columns * CellWidth;
            float y = header + k / columns * cellHeight;
            var imageRect = SKRect.Create(x + (CellWidth - ImageSize) / 2f, y + 4, ImageSize, ImageSize);
            using (var image = ToImage(data, cell.Sample))
            {
                canvas.DrawImage(image, imageRect, sampling, null);
            }
            var border = imageRect;
            border.Inflate(cell.Wrong ? 2.5f : 0.5f, cell.Wrong ? 2.5f : 0.5f);
            canvas.DrawRect(border, cell.Wrong ? frame : thin);
            float ty = imageRect.Bottom + 8 + CaptionSize;
            foreach (var line in cell.Lines)
            {
                var font = line.Bold ? captionBold : captionFont;
                using var paint = Drawing.Fill(line.Color);
                canvas.DrawText(Drawing.Fit(line.Text, font, CellWidth - 6), x + CellWidth / 2f, ty, SKTextAlign.Center, font, paint);
                ty += LineHeight;
            }
        }
        return Drawing.EncodePng(surface);
    }

    /// <summary>Expected PNG size for <paramref name="count"/> images of <paramref name="lines"/> caption lines.</summary>
    public static (int Width, int Height) Size(int count, int lines, int columns, bool legend)
    {
        columns = Math.Clamp(Math.Min(columns, count), 1, MaxColumns);
        int rows = (count + columns - 1) / columns;
        return (Math.Max(MinWidth, columns * CellWidth + 2 * Margin), 34 + (legend ? 24 : 0) + rows * (ImageSize + 8 + lines * LineHeight + 10) + Margin);
    }

    private static void DrawLegend(SKCanvas canvas, IReadOnlyList<LegendEntry> legend, float x, float y, SKFont font)
    {
        foreach (var entry in legend)
        {
            using var swatch = Drawing.Fill(entry.Color);
            canvas.DrawRect(SKRect.Create(x, y - 10, 12, 12), swatch);
            using var ink = Drawing.Fill(Drawing.Ink);
            canvas.DrawText(entry.Text, x + 17, y, SKTextAlign.Left, font, ink);
            x += 17 + font.MeasureText(entry.Text) + 18;
        }
    }

    /// <summary>The sample as an RGBA image: three channels as colour, otherwise the first channel as gray.</summary>
    internal static SKImage ToImage(Dataset data, int sample)
    {
        var shape = data.SampleShape;
        int h = shape.IsImage ? shape.Height : 1, w = shape.IsImage ? shape.Width : shape.Size, c = shape.IsImage ? shape.Channels : 1;
        var pixels = data.Image(sample);
        var rgba = new byte[h * w * 4];
        for (int i = 0; i < h * w; i++)
        {
            byte r = pixels[i * c], g = c == 3 ? pixels[i * c + 1] : r, b = c == 3 ? pixels[i * c + 2] : r;
            rgba[4 * i] = r;
            rgba[4 * i + 1] = g;
            rgba[4 * i + 2] = b;
            rgba[4 * i + 3] = 255;
        }
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var data2 = SKData.CreateCopy(rgba);
        return SKImage.FromPixels(info, data2, info.RowBytes);
    }
}
