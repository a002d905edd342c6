using System.Globalization;
using SkiaSharp;

namespace Convnet.Cli.Visualization;

/// <summary>
/// The confusion matrix as a heat map: rows are true classes, columns predicted ones, each cell
/// shows its count and is shaded by its share of the true class. <see cref="Render"/> also returns
/// every cell's rectangle, for the report's clickable image map. Up to <see cref="MaxNamedAxis"/>
/// classes the axes carry the class names (truncated to <see cref="MaxLabelWidth"/> pixels, and the
/// column labels turned upright when wider than a cell); beyond that the axes carry the class
/// numbers and, when the classes have names, a key under the matrix pairs each number with its name.
/// </summary>
internal static class ConfusionPlot
{
    /// <summary>The most classes whose names label the axes; more are numbered, with a key.</summary>
    public const int MaxNamedAxis = 30;

    /// <summary>Axis labels are cut (with an ellipsis) to this many pixels.</summary>
    public const float MaxLabelWidth = 150;

    private const int AxisTitle = 44;
    private const int TitleBand = 68;
    private const int BarGap = 28;
    private const int BarWidth = 20;
    private const int Right = 92;
    private const int Bottom = 24;
    private const int KeyColumnWidth = 210;
    private const int KeyLineHeight = 17;

    // Light to dark blue ("Blues"): 0 = none of the class, 1 = all of it.
    private static readonly SKColor[] Palette =
    [
        new(0xf7, 0xfb, 0xff), new(0xde, 0xeb, 0xf7), new(0xc6, 0xdb, 0xef), new(0x9e, 0xca, 0xe1),
        new(0x6b, 0xae, 0xd6), new(0x42, 0x92, 0xc6), new(0x21, 0x71, 0xb5), new(0x08, 0x51, 0x9c), new(0x08, 0x30, 0x6b),
    ];

    public const int MinWidth = 480;

    /// <summary>
    /// Cells of 22 to 60 pixels for up to <see cref="MaxNamedAxis"/> classes, larger for a few so that the matrix (and its colour bar) is
    /// at least 240 pixels high; more classes get smaller cells (at least 14 pixels, the matrix up to about 2,400 pixels wide).
    /// </summary>
    public static int CellSize(int classes) => classes <= MaxNamedAxis
        ? Math.Max(Math.Clamp(600 / classes, 22, 60), (240 + classes - 1) / classes)
        : Math.Clamp(2400 / classes, 14, 22);

    /// <summary>The PNG's size for <paramref name="classes"/> classes named by <paramref name="names"/> (null: numbered).</summary>
    public static (int Width, int Height) Size(int classes, IReadOnlyList<string>? names = null)
    {
        var layout = new Layout(classes, names);
        return (layout.Width, layout.Height);
    }

    /// <summary>A class's label on the axes (and in the key): its name up to <see cref="MaxNamedAxis"/> classes, else its number.</summary>
    public static string AxisLabel(int c, int classes, IReadOnlyList<string>? names) =>
        names is not null && classes <= MaxNamedAxis && c < names.Count ? names[c] : c.ToString(CultureInfo.InvariantCulture);

    /// <summary>PNG bytes and, per [true, predicted] cell, its pixel rectangle.</summary>
    public static (byte[] Png, SKRectI[,] Cells) Render(Evaluation evaluation, string title, IReadOnlyList<string>? names = null)
    {
        int n = evaluation.Classes;
        var layout = new Layout(n, names);
        int cell = layout.Cell, grid = n * cell, left = layout.Left, top = layout.Top;
        using var surface = Drawing.CreateSurface(layout.Width, layout.Height);
        var canvas = surface.Canvas;
        using var ink = Drawing.Fill(Drawing.Ink);
        using var white = Drawing.Fill(SKColors.White);
        using var muted = Drawing.Fill(new SKColor(0xa0, 0xa0, 0xa0));
        using var titleFont = Drawing.Font(18, bold: true);
        using var labelFont = Drawing.Font(14, bold: true);
        using var tickFont = TickFont(cell);
        using var keyFont = Drawing.Font(12.5f);
        float countSize = Math.Clamp(cell * 0.3f, 9, 15);
        using var countFont = Drawing.Font(countSize);
        using var countBold = Drawing.Font(countSize, bold: true);
        using var errorFrame = Drawing.Stroke(Drawing.Wrong, cell >= 20 ? 2 : 1);
        using var gridLine = Drawing.Stroke(new SKColor(0xd0, 0xd0, 0xd0), 1);
        using var barLine = Drawing.Stroke(new SKColor(0xd0, 0xd0, 0xd0), 1);

        canvas.DrawText(Drawing.Fit(title, titleFont, layout.Width - 24), layout.Width / 2f, 26, SKTextAlign.Center, titleFont, ink);
        canvas.DrawText("Predicted label", left + grid / 2f, 56, SKTextAlign.Center, labelFont, ink);
        canvas.Save();
        canvas.RotateDegrees(-90);
        canvas.DrawText("True label", -(top + grid / 2f), 30, SKTextAlign.Center, labelFont, ink);
        canvas.Restore();

        var cells = new SKRectI[n, n];
        float tickBaseline = tickFont.Size * 0.36f;
        for (int t = 0; t < n; t++)
        {
            string label = Drawing.Fit(AxisLabel(t, n, names), tickFont, MaxLabelWidth);
            if (layout.UprightColumns)
            {
                // Read bottom to top, ending just above the matrix.
                canvas.Save();
                canvas.Translate(left + t * cell + cell / 2f + tickBaseline, top - 8);
                canvas.RotateDegrees(-90);
                canvas.DrawText(label, 0, 0, SKTextAlign.Left, tickFont, ink);
                canvas.Restore();
            }
            else
            {
                canvas.DrawText(label, left + t * cell + cell / 2f, top - 10, SKTextAlign.Center, tickFont, ink);
            }
            canvas.DrawText(label, left - 10, top + t * cell + cell / 2f + tickBaseline, SKTextAlign.Right, tickFont, ink);
            int rowTotal = evaluation.RowTotal(t);
            for (int p = 0; p < n; p++)
            {
                int count = evaluation.Confusion[t, p];
                double share = rowTotal == 0 ? 0 : (double)count / rowTotal;
                var rect = SKRectI.Create(left + p * cell, top + t * cell, cell, cell);
                cells[t, p] = rect;
                var color = Shade(share);
                using (var fill = Drawing.Fill(color))
                {
                    canvas.DrawRect(rect, fill);
                }
                canvas.DrawRect(rect, gridLine);
                if (count > 0 && t != p)
                {
                    float inset = cell >= 20 ? 1.5f : 1f;
                    canvas.DrawRect(SKRect.Create(rect.Left + inset, rect.Top + inset, cell - 2 * inset, cell - 2 * inset), errorFrame);
                }
                string text = Compact(count);
                var paint = count == 0 ? muted : Luminance(color) < 0.5 ? white : ink;
                var font = t == p ? countBold : countFont;
                if (font.MeasureText(text) <= cell - 4)
                {
                    // A count that does not fit (large counts in small cells) is left to the report's hover text.
                    canvas.DrawText(text, rect.MidX, rect.MidY + countSize * 0.36f, SKTextAlign.Center, font, paint);
                }
            }
        }

        // Colour bar: share of the true class, on the same square-root scale as the cells.
        float barLeft = left + grid + BarGap;
        for (int y = 0; y < grid; y++)
        {
            double share = Math.Pow(1 - (double)y / (grid - 1), 2);
            using var fill = Drawing.Fill(Shade(share));
            canvas.DrawRect(SKRect.Create(barLeft, top + y, BarWidth, 1), fill);
        }
        canvas.DrawRect(SKRect.Create(barLeft, top, BarWidth, grid), barLine);
        using var barFont = Drawing.Font(13);
        foreach (double share in new[] { 0, 0.01, 0.05, 0.2, 0.5, 1 })
        {
            float y = top + (float)((1 - Math.Sqrt(share)) * (grid - 1));
            canvas.DrawLine(barLeft + BarWidth, y, barLeft + BarWidth + 4, y, barLine);
            canvas.DrawText((share * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%", barLeft + BarWidth + 7, y + 4.5f, SKTextAlign.Left, barFont, ink);
        }
        canvas.Save();
        canvas.RotateDegrees(90);
        canvas.DrawText("share of the true class", top + grid / 2f, -(barLeft + BarWidth + 62), SKTextAlign.Center, labelFont, ink);
        canvas.Restore();

        if (layout.KeyRows > 0)
        {
            // The key: each class number with its name, in columns, numbers in order down each column.
            float keyTop = top + grid + Bottom + 8;
            canvas.DrawText("Classes", AxisTitle - 28, keyTop + 14, SKTextAlign.Left, labelFont, ink);
            for (int c = 0; c < n; c++)
            {
                float x = AxisTitle - 28 + c / layout.KeyRows * KeyColumnWidth;
                float y = keyTop + 22 + (c % layout.KeyRows + 1) * KeyLineHeight;
                string number = c.ToString(CultureInfo.InvariantCulture);
                canvas.DrawText(number, x + 28, y, SKTextAlign.Right, keyFont, ink);
                canvas.DrawText(Drawing.Fit(names![c], keyFont, KeyColumnWidth - 44), x + 36, y, SKTextAlign.Left, keyFont, ink);
            }
        }
        return (Drawing.EncodePng(surface), cells);
    }

    private static SKFont TickFont(int cell) => Drawing.Font(Math.Min(13, cell * 0.62f));

    /// <summary>
    /// Margins from the widest axis label: the row labels' width on the left, a band above the
    /// matrix as high as the column labels are long when they stand upright; the key's rows below.
    /// </summary>
    private readonly record struct Layout
    {
        public Layout(int classes, IReadOnlyList<string>? names)
        {
            Cell = CellSize(classes);
            using var font = TickFont(Cell);
            float widest = 0;
            for (int c = 0; c < classes; c++)
            {
                widest = Math.Max(widest, Math.Min(MaxLabelWidth, font.MeasureText(AxisLabel(c, classes, names))));
            }
            int labels = (int)MathF.Ceiling(widest);
            UprightColumns = labels > Cell - 4;
            Left = Math.Max(96, AxisTitle + labels + 14);
            Top = UprightColumns ? TitleBand + labels + 14 : 88;
            int grid = classes * Cell;
            Width = Math.Max(MinWidth, Left + grid + BarGap + BarWidth + Right);
            bool key = names is not null && classes > MaxNamedAxis;
            int keyColumns = Math.Max(1, (Width - 2 * (AxisTitle - 28)) / KeyColumnWidth);
            KeyRows = key ? (classes + keyColumns - 1) / keyColumns : 0;
            Height = Top + grid + Bottom + (key ? 8 + 22 + KeyRows * KeyLineHeight + 12 : 0);
        }

        public int Cell { get; }
        public bool UprightColumns { get; }
        public int Left { get; }
        public int Top { get; }
        public int Width { get; }
        public int Height { get; }
        public int KeyRows { get; }
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
