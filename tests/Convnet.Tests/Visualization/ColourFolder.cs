using Convnet.Tests.Data;
using SkiaSharp;

namespace Convnet.Tests.Visualization;

/// <summary>An image folder of three named classes drawn with Skia: a red square, a green disc and a blue bar on white.</summary>
internal static class ColourFolder
{
    public static readonly string[] Classes = ["blue bar", "green disc", "red square"]; // the folder names, in ordinal order

    /// <summary>Writes <paramref name="perClass"/> PNGs of <paramref name="height"/>×<paramref name="width"/> into each class folder under <paramref name="name"/>; returns the folder.</summary>
    public static string Write(TempDir dir, string name, int perClass, int height = 32, int width = 32)
    {
        string root = dir.File(name);
        foreach (string cls in Classes)
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            for (int i = 0; i < perClass; i++)
            {
                using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
                using (var canvas = new SKCanvas(bitmap))
                {
                    canvas.Clear(SKColors.White);
                    float shift = i % 4;
                    // No antialiasing: the shapes keep their exact colour.
                    using var paint = new SKPaint { IsAntialias = false, Style = SKPaintStyle.Fill };
                    switch (cls)
                    {
                        case "red square":
                            paint.Color = new SKColor(255, 0, 0);
                            canvas.DrawRect(SKRect.Create(width / 4f + shift, height / 4f, width / 2f, height / 2f), paint);
                            break;
                        case "green disc":
                            paint.Color = new SKColor(0, 255, 0);
                            canvas.DrawCircle(width / 2f + shift, height / 2f, Math.Min(width, height) / 3f, paint);
                            break;
                        default:
                            paint.Color = new SKColor(0, 0, 255);
                            canvas.DrawRect(SKRect.Create(2 + shift, height / 2f - 3, width - 8, 6), paint);
                            break;
                    }
                }
                using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
                using var file = File.Create(Path.Combine(root, cls, $"{i:D3}.png"));
                data.SaveTo(file);
            }
        }
        return root;
    }
}
