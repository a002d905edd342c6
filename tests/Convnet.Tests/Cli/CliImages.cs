using Convnet.Tests.Data;
using SkiaSharp;

namespace Convnet.Tests.Cli;

/// <summary>Hand-drawn digits as PNG files, as a user would photograph or paint them.</summary>
internal static class CliImages
{
    public const int Size = 200;

    /// <summary>A thick stroke "1" or "7" on a 200×200 canvas, white on black or black on white.</summary>
    public static string WriteDigitPng(TempDir dir, string name, char digit, bool whiteOnBlack)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(Size, Size, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        using (var pen = new SKPaint { Color = whiteOnBlack ? SKColors.White : SKColors.Black, StrokeWidth = 22, Style = SKPaintStyle.Stroke, StrokeCap = SKStrokeCap.Round, IsAntialias = true })
        {
            canvas.Clear(whiteOnBlack ? SKColors.Black : SKColors.White);
            switch (digit)
            {
                case '1':
                    canvas.DrawLine(85, 55, 105, 35, pen);
                    canvas.DrawLine(105, 35, 105, 165, pen);
                    break;
                case '7':
                    canvas.DrawLine(50, 40, 150, 40, pen);
                    canvas.DrawLine(150, 40, 85, 165, pen);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(digit), digit, "only 1 and 7 are drawn");
            }
        }
        string path = dir.File(name);
        using (var data = bitmap.Encode(SKEncodedImageFormat.Png, 100))
        using (var file = File.Create(path))
        {
            data.SaveTo(file);
        }
        return path;
    }
}
