using System.Globalization;
using SkiaSharp;

namespace Convnet.Cli.Visualization;

/// <summary>
/// The confusion matrix as a heat map: rows are true classes, columns predicted ones, each cell
/// shows its count and is shaded by its share of the true class. <see cref="Render"/> also returns
/// every cell's rectangle, for the report's clickable image map.
/// </summary>
internal static class ConfusionPlot
{
    private const int Left = 96;
    private const int Top = 88;
    private const int BarGap = 28;
    private const int BarWidth = 20;
    private const int Right = 92;
    private const int Bottom = 24;

    // Light to dark blue ("Blues"): 0 = none of the class, 1 = all of it.
    private static readonly SKColor[] Palette =
    [
        new(0xf7, 0xfb, 0xff), new(0xde, 0xeb, 0xf7), new(0xc6, 0xdb, 0xef), new(0x9e, 0xca, 0xe1),
        new(0x6b, 0xae, 0xd6), new(0x42, 0x92, 0xc6), new(0x21, 0x71, 0xb5), new(0x08, 0x51, 0x9c), new(0x08, 0x30, 0x6b),
    ];

    public const int MinWidth = 480;

    /// <summary>Cells of 22 to 60 pixels, larger for a few classes so that the matrix (and its colour bar) is at least 240 pixels high.</summary>
    public static int CellSize(int classes) => Math.Max(Math.Clamp(600 / classes, 22, 60), (240 + classes - 1) / classes);

    public static (int Width, int Height) Size(int classes)
    {
        int grid = classes * CellSize(classes);
        return (Math.Max(MinWidth, Left + grid + BarGap + BarWidth + Right), Top + grid + Bottom);
    }

    /// <summary>PNG bytes and, per [true, predicted] cell, its pixel rectangle.</summary>
    public static (byte[] Png, SKRectI[,] Cells) Render(Evaluation evaluation, string title)
    {
        int n = evaluation.Classes, cell = CellSize(n), grid = n * cell;
        var (width, height) = Size(n);
        using var surface = Drawing.CreateSurface(width, height);
        var canvas = surface.Canvas;
        using var ink = Drawing.Fill(Drawing.Ink);
        using var white = Drawing.Fill(SKColors.White);
        using var muted = Drawing.Fill(new SKColor(0xa0, 0xa0, 0xa0));
        using var titleFont = Drawing.Font(18, bold: true);
        using var labelFont = Drawing.Font(14, bold: true);
        using var tickFont = Drawing.Font(13);
        float countSize = Math.Clamp(cell * 0.3f, 9, 15);
        using var countFont = Drawing.Font(countSize);
        using var countBold = Drawing.Font(countSize, bold: true);
        using var errorFrame = Drawing.Stroke(Drawing.Wrong, 2);
        using var gridLine = Drawing.Stroke(new SKColor(0xd0, 0xd0, 0xd0), 1);

        canvas.DrawText(Drawing.Fit(title, titleFont, width - 24), width / 2f, 26, SKTextAlign.Center, titleFont, ink);
        canvas.DrawText("Predicted label", Left + grid / 2f, 56, SKTextAlign.Center, labelFont, ink);
        canvas.Save();
        canvas.RotateDegrees(-90);
        canvas.DrawText("True label", -(Top + grid / 2f), 30, SKTextAlign.Center, labelFont, ink);
        canvas.Restore();

        var cells = new SKRectI[n, n];
        for (int t = 0; t < n; t++)
        {
            string label = t.ToString(CultureInfo.InvariantCulture);
            canvas.DrawText(label, Left + t * cell + cell / 2f, Top - 10, SKTextAlign.Center, tickFont, ink);
            canvas.DrawText(label, Left - 10, Top + t * cell + cell / 2f + 5, SKTextAlign.Right, tickFont, ink);
            int rowTotal = evaluation.RowTotal(t);
            for (int p = 0; p < n; p++)
            {
                int count = evaluation.Confusion[t, p];
                double share = rowTotal == 0 ? 0 : (double)count / rowTotal;
                var rect = SKRectI.Create(Left + p * cell, Top + t * cell, cell, cell);
                cells[t, p] = rect;
                var color = Shade(share);
                using (var fill = Drawing.Fill(color))
                {
                    canvas.DrawRect(rect, fill);
                }
                canvas.DrawRect(rect, gridLine);
                if (count > 0 && t != p)
                {
                    var frame = SKRect.Create(rect.Left + 1.5f, rect.Top + 1.5f, cell - 3, cell - 3);
                    canvas.DrawRect(frame, errorFrame);
                }
                string text = Compact(count);
                var paint = count == 0 ? muted : Luminance(color) < 0.5 ? white : ink;
                var font = t == p ? countBold : countFont;
                var fitted = Drawing.Fit(text, font, cell - 4);
                canvas.DrawText(fitted, rect.MidX, rect.MidY + countSize * 0.36f, SKTextAlign.Center, font, paint);
            }
        }

        // Colour bar: share of the true class, on the same square-root scale as the cells.
        float barLeft = Left + grid + BarGap;
        for (int y = 0; y < grid; y++)
        {
            double share = Math.Pow(1 - (double)y / (grid - 1), 2);
            using var fill = Drawing.Fill(Shade(share));
            canvas.DrawRect(SKRect.Create(barLeft, Top + y, BarWidth, 1), fill);
        }
        canvas.DrawRect(SKRect.Create(barLeft, Top, BarWidth, grid), gridLine);
        foreach (double share in new[] { 0, 0.01, 0.05, 0.2, 0.5, 1 })
        {
            float y = Top + (float)((1 - Math.Sqrt(share)) * (grid - 1));
            canvas.DrawLine(barLeft + BarWidth, y, barLeft + BarWidth + 4, y, gridLine);
            canvas.DrawText((share * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%", barLeft + BarWidth + 7, y + 4.5f, SKTextAlign.Left, tickFont, ink);
        }
        canvas.Save();
        canvas.RotateDegrees(90);
        canvas.DrawText("share of the true class", Top + grid / 2f, -(barLeft + BarWidth + 62), SKTextAlign.Center, labelFont, ink);
        canvas.Restore();
        return (Drawing.EncodePng(surface), cells);
    }

    /// <summary>Square-root scale, so that a 1% error still shows.</summary>
    internal static SKColor Shade(double share)
    {
        double x = Math.Sqrt(Math.Clamp(share, 0, 1)) * (Palette.Length - 1);
        int i = Math.Min((int)x, Palette.Length - 2);
        double f = x - i;
        var a = Palette[i];
        var b = Palette[i + 1];
        return new SKColor(Lerp(a.Red, b.Red, f), Lerp(a.Green, b.Green, f), Lerp(a.Blue, b.Blue, f));
    }

    private static byte Lerp(byte a, byte b, double f) => (byte)Math.Round(a + (b - a) * f);

    private static double Luminance(SKColor c) => (0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue) / 255;

    private static string Compact(int count) => count < 100_000
        ? count.ToString(CultureInfo.InvariantCulture)
        : (count / 1000).ToString(CultureInfo.InvariantCulture) + "k";
}
