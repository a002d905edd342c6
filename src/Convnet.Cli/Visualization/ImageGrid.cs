using Convnet.Data;
using Convnet.Tensors;
using SkiaSharp;

namespace Convnet.Cli.Visualization;

/// <summary>One line of text under an image; <paramref name="Suffix"/> (a probability) is never cut, the text before it is when the line is too long.</summary>
internal readonly record struct Caption(string Text, SKColor Color, bool Bold = false, string Suffix = "");

/// <summary>One image of a grid: the data set's sample, its caption lines, and whether to frame it in red.</summary>
internal sealed record GridCell(int Sample, IReadOnlyList<Caption> Lines, bool Wrong = false);

/// <summary>An item of the key drawn under the title.</summary>
internal readonly record struct LegendEntry(string Text, SKColor Color);

/// <summary>
/// Draws samples of a data set as a captioned grid (the <c>show</c> command and the report's
/// galleries). Images of any height, width and channel count (three channels in colour, otherwise
/// the first as gray) are scaled to a readable cell: small ones enlarged by a whole factor with
/// nearest-neighbour sampling (so that every pixel stays a sharp square), large ones shrunk to at
/// most <see cref="MaxImageSide"/> pixels on their longer side; the aspect ratio is kept.
/// </summary>
internal static class ImageGrid
{
    public const int MaxColumns = 16;

    /// <summary>A small image is enlarged by the smallest whole factor that makes its longer side at least this many pixels (28 → 84).</summary>
    public const int MinImageSide = 84;

    /// <summary>A large image is shrunk to this many pixels on its longer side.</summary>
    public const int MaxImageSide = 160;

    private const int Margin = 16;
    private const int MinCellWidth = 148;
    private const int LineHeight = 16;
    private const float CaptionSize = 12.5f;
    private const int MinWidth = 480;

    /// <summary>The pixel size an image of <paramref name="height"/>×<paramref name="width"/> is drawn at.</summary>
    public static (int Height, int Width) DisplaySize(int height, int width)
    {
        int side = Math.Max(height, width);
        double scale = side <= MinImageSide ? Math.Ceiling((double)MinImageSide / side) : side <= MaxImageSide ? 1 : (double)MaxImageSide / side;
        return (Math.Max(1, (int)Math.Round(height * scale)), Math.Max(1, (int)Math.Round(width * scale)));
    }

    /// <summary>Renders the grid as PNG bytes; the width is at least <see cref="MinWidth"/> pixels.</summary>
    public static byte[] Render(Dataset data, IReadOnlyList<GridCell> cells, string title, IReadOnlyList<LegendEntry> legend, int columns = 8)
    {
        if (cells.Count == 0)
        {
            throw new ArgumentException("a grid needs at least one image", nameof(cells));
        }
        var (h, w, _) = Dimensions(data.SampleShape);
        var (imageHeight, imageWidth) = DisplaySize(h, w);
        var layout = new Layout(cells.Count, cells.Max(c => c.Lines.Count), columns, legend.Count > 0, imageHeight, imageWidth);

        using var surface = Drawing.CreateSurface(layout.Width, layout.Height);
        var canvas = surface.Canvas;
        using var titleFont = Drawing.Font(17, bold: true);
        using var captionFont = Drawing.Font(CaptionSize);
        using var captionBold = Drawing.Font(CaptionSize, bold: true);
        using var ink = Drawing.Fill(Drawing.Ink);
        canvas.DrawText(Drawing.Fit(title, titleFont, layout.Width - 2 * Margin), Margin, 24, SKTextAlign.Left, titleFont, ink);
        if (legend.Count > 0)
        {
            DrawLegend(canvas, legend, Margin, 50, captionFont, layout.Width - Margin);
        }

        int gridWidth = layout.Columns * layout.CellWidth;
        int left = (layout.Width - gridWidth) / 2;
        using var frame = Drawing.Stroke(Drawing.Wrong, 3);
        using var thin = Drawing.Stroke(new SKColor(0xc8, 0xc8, 0xc8), 1);
        // Enlarging: nearest, so that pixels stay squares; shrinking: averaged over mipmaps, so that thin strokes do not vanish.
        var sampling = imageWidth >= w ? new SKSamplingOptions(SKFilterMode.Nearest) : new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear);
        for (int k = 0; k < cells.Count; k++)
        {
            var cell = cells[k];
            float x = left + k % layout.Columns * layout.CellWidth;
            float y = layout.Header + k / layout.Columns * layout.CellHeight;
            var imageRect = SKRect.Create(x + (layout.CellWidth - imageWidth) / 2f, y + 4 + (layout.ImageBox - imageHeight) / 2f, imageWidth, imageHeight);
            using (var image = ToImage(data, cell.Sample))
            {
                canvas.DrawImage(image, imageRect, sampling, null);
            }
            var border = imageRect;
            border.Inflate(cell.Wrong ? 2.5f : 0.5f, cell.Wrong ? 2.5f : 0.5f);
            canvas.DrawRect(border, cell.Wrong ? frame : thin);
            float ty = y + 4 + layout.ImageBox + 8 + CaptionSize;
            foreach (var line in cell.Lines)
            {
                var font = line.Bold ? captionBold : captionFont;
                using var paint = Drawing.Fill(line.Color);
                canvas.DrawText(Fit(line, font, layout.CellWidth - 6), x + layout.CellWidth / 2f, ty, SKTextAlign.Center, font, paint);
                ty += LineHeight;
            }
        }
        return Drawing.EncodePng(surface);
    }

    /// <summary>The caption's text cut with an ellipsis so that it and its whole suffix fit in <paramref name="width"/> pixels.</summary>
    internal static string Fit(Caption line, SKFont font, float width) =>
        Drawing.Fit(line.Text, font, width - font.MeasureText(line.Suffix)) + line.Suffix;

    /// <summary>Expected PNG size for <paramref name="count"/> samples of <paramref name="sampleShape"/> with <paramref name="lines"/> caption lines.</summary>
    public static (int Width, int Height) Size(Shape sampleShape, int count, int lines, int columns, bool legend)
    {
        var (h, w, _) = Dimensions(sampleShape);
        var (imageHeight, imageWidth) = DisplaySize(h, w);
        var layout = new Layout(count, lines, columns, legend, imageHeight, imageWidth);
        return (layout.Width, layout.Height);
    }

    /// <summary>Where everything goes: cells as wide as the image (at least <see cref="MinCellWidth"/>, for the captions) and as high as the image box and the captions.</summary>
    private readonly record struct Layout
    {
        public Layout(int count, int lines, int columns, bool legend, int imageHeight, int imageWidth)
        {
            Columns = Math.Clamp(Math.Min(columns, count), 1, MaxColumns);
            ImageBox = imageHeight;
            CellWidth = Math.Max(MinCellWidth, imageWidth + 16);
            CellHeight = imageHeight + 8 + lines * LineHeight + 10;
            Header = 34 + (legend ? 24 : 0);
            int rows = (count + Columns - 1) / Columns;
            Width = Math.Max(MinWidth, Columns * CellWidth + 2 * Margin);
            Height = Header + rows * CellHeight + Margin;
        }

        public int Columns { get; }
        public int ImageBox { get; }
        public int CellWidth { get; }
        public int CellHeight { get; }
        public int Header { get; }
        public int Width { get; }
        public int Height { get; }
    }

    private static void DrawLegend(SKCanvas canvas, IReadOnlyList<LegendEntry> legend, float x, float y, SKFont font, float right)
    {
        using var ink = Drawing.Fill(Drawing.Ink);
        foreach (var entry in legend)
        {
            if (x + 17 + font.MeasureText(entry.Text) > right)
            {
                break; // a narrow grid shows the entries that fit
            }
            using var swatch = Drawing.Fill(entry.Color);
            canvas.DrawRect(SKRect.Create(x, y - 10, 12, 12), swatch);
            canvas.DrawText(entry.Text, x + 17, y, SKTextAlign.Left, font, ink);
            x += 17 + font.MeasureText(entry.Text) + 18;
        }
    }

    /// <summary>(height, width, channels) of a sample: an image's own, or a flat vector as one row of gray.</summary>
    private static (int Height, int Width, int Channels) Dimensions(Shape shape) =>
        shape.IsImage ? (shape.Height, shape.Width, shape.Channels) : (1, shape.Size, 1);

    /// <summary>The sample as an RGBA image: three channels as colour, otherwise the first channel as gray.</summary>
    internal static SKImage ToImage(Dataset data, int sample)
    {
        var (h, w, c) = Dimensions(data.SampleShape);
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
        using var bytes = SKData.CreateCopy(rgba);
        return SKImage.FromPixels(info, bytes, info.RowBytes);
    }
}
