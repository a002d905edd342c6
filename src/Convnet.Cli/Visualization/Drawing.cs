using SkiaSharp;

namespace Convnet.Cli.Visualization;

/// <summary>Fonts, colours and PNG encoding shared by every picture the tool draws.</summary>
internal static class Drawing
{
    /// <summary>Debian's fonts-dejavu-core puts them here; other systems are asked through fontconfig.</summary>
    public const string FontFolder = "/usr/share/fonts/truetype/dejavu";
    public const string FontFamily = "DejaVu Sans";

    public static readonly SKColor Ink = new(0x20, 0x20, 0x20);
    public static readonly SKColor Muted = new(0x6b, 0x6b, 0x6b);
    public static readonly SKColor Wrong = new(0xd0, 0x1c, 0x1c);
    public static readonly SKColor Right = new(0x1a, 0x7f, 0x37);
    public static readonly SKColor Background = SKColors.White;

    private static readonly Lazy<SKTypeface> s_regular = new(() => Load("DejaVuSans.ttf", SKFontStyle.Normal));
    private static readonly Lazy<SKTypeface> s_bold = new(() => Load("DejaVuSans-Bold.ttf", SKFontStyle.Bold));
    private static readonly Lazy<bool> s_scottPlot = new(ConfigureScottPlotOnce);

    public static SKTypeface Regular => s_regular.Value;
    public static SKTypeface Bold => s_bold.Value;

    public static SKFont Font(float size, bool bold = false) => new(bold ? Bold : Regular, size) { Subpixel = true, Edging = SKFontEdging.Antialias };

    public static SKPaint Fill(SKColor color) => new() { Color = color, IsAntialias = true, Style = SKPaintStyle.Fill };

    public static SKPaint Stroke(SKColor color, float width) => new() { Color = color, IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = width };

    /// <summary>Makes ScottPlot draw with DejaVu Sans; without a font it silently draws no text.</summary>
    public static void ConfigureScottPlot() => _ = s_scottPlot.Value;

    public static byte[] EncodePng(SKSurface surface)
    {
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public static SKSurface CreateSurface(int width, int height)
    {
        var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"cannot create a {width}×{height} drawing surface");
        surface.Canvas.Clear(Background);
        return surface;
    }

    /// <summary>Text cut with an ellipsis so that it fits in <paramref name="width"/> pixels.</summary>
    public static string Fit(string text, SKFont font, float width)
    {
        if (font.MeasureText(text) <= width)
        {
            return text;
        }
        for (int n = text.Length - 1; n > 0; n--)
        {
            string cut = string.Concat(text.AsSpan(0, n), "…");
            if (font.MeasureText(cut) <= width)
            {
                return cut;
            }
        }
        return "…";
    }

    private static string? FontFile(string name)
    {
        string path = Path.Combine(FontFolder, name);
        return File.Exists(path) ? path : null;
    }

    private static SKTypeface Load(string file, SKFontStyle style)
    {
        string? path = FontFile(file);
        var typeface = path is null ? null : SKTypeface.FromFile(path);
        typeface ??= SKFontManager.Default.MatchFamily(FontFamily, style) ?? SKFontManager.Default.MatchFamily("sans-serif", style);
        if (typeface is null || typeface.GlyphCount == 0)
        {
            throw new UserError($"no font to draw text with: install DejaVu Sans (Debian: apt-get install -y fonts-dejavu-core; expected in {FontFolder})");
        }
        return typeface;
    }

    private static bool ConfigureScottPlotOnce()
    {
        string? regular = FontFile("DejaVuSans.ttf");
        string? bold = FontFile("DejaVuSans-Bold.ttf");
        if (regular is not null)
        {
            ScottPlot.Fonts.AddFontFile(FontFamily, regular, bold: false, italic: false);
            if (bold is not null)
            {
                ScottPlot.Fonts.AddFontFile(FontFamily, bold, bold: true, italic: false);
            }
        }
        ScottPlot.Fonts.Default = regular is not null ? FontFamily : Regular.FamilyName; // Regular throws a clear error when there is no font at all
        return true;
    }
}
