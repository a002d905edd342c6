using System.Globalization;
using Convnet.Models;
using SkiaSharp;

namespace Convnet.Cli.Visualization;

/// <summary>One box per layer, top to bottom, with its output shape and parameter count (as Keras's plot_model with show_shapes).</summary>
internal static class ArchitectureDiagram
{
    public const int Width = 640;
    private const int BoxWidth = 440;
    private const int BoxHeight = 56;
    private const int Gap = 30;
    private const int Top = 64;
    private const int LegendHeight = 44;

    private static readonly Dictionary<string, SKColor> Colors = new()
    {
        ["Input"] = new(0xee, 0xee, 0xee),
        ["Conv2D"] = new(0xc6, 0xdb, 0xef),
        ["MaxPooling2D"] = new(0xc7, 0xe9, 0xc0),
        ["Dense"] = new(0xfd, 0xd0, 0xa2),
        ["Flatten"] = new(0xe5, 0xd8, 0xf0),
    };

    private static readonly SKColor Activation = new(0xf6, 0xf1, 0xc9);

    public static int Height(int layers) => Top + (layers + 1) * (BoxHeight + Gap) - Gap + LegendHeight + 16;

    public static byte[] Render(Sequential model, string title)
    {
        var boxes = new List<(string Name, string Type, string Shape, int Parameters)>
        {
            ("input", "Input", model.InputShape.ToBatchString(), 0),
        };
        boxes.AddRange(model.Layers.Select(l => (l.Name, l.TypeName, l.OutputShape.ToBatchString(), l.ParameterCount)));
        int height = Height(model.Layers.Count);
        using var surface = Drawing.CreateSurface(Width, height);
        var canvas = surface.Canvas;
        using var ink = Drawing.Fill(Drawing.Ink);
        using var muted = Drawing.Fill(Drawing.Muted);
        using var titleFont = Drawing.Font(18, bold: true);
        using var subtitleFont = Drawing.Font(13);
        using var nameFont = Drawing.Font(15, bold: true);
        using var detailFont = Drawing.Font(13);
        using var outline = Drawing.Stroke(new SKColor(0x55, 0x55, 0x55), 1.5f);
        using var arrow = Drawing.Fill(new SKColor(0x55, 0x55, 0x55));

        canvas.DrawText(Drawing.Fit(title, titleFont, Width - 24), Width / 2f, 26, SKTextAlign.Center, titleFont, ink);
        string totals = string.Create(CultureInfo.InvariantCulture, $"{model.Layers.Count} layers, {model.ParameterCount:N0} parameters; shapes are (batch, height, width, channels)");
        canvas.DrawText(Drawing.Fit(totals, subtitleFont, Width - 24), Width / 2f, 46, SKTextAlign.Center, subtitleFont, muted);

        float left = (Width - BoxWidth) / 2f;
        for (int i = 0; i < boxes.Count; i++)
        {
            var (name, type, shape, parameters) = boxes[i];
            float y = Top + i * (BoxHeight + Gap);
            var rect = SKRect.Create(left, y, BoxWidth, BoxHeight);
            using (var fill = Drawing.Fill(ColorOf(type)))
            {
                canvas.DrawRoundRect(rect, 6, 6, fill);
            }
            canvas.DrawRoundRect(rect, 6, 6, outline);
            string header = i == 0 ? "input (InputLayer)" : $"{name} ({type})";
            canvas.DrawText(Drawing.Fit(header, nameFont, BoxWidth - 16), rect.MidX, y + 23, SKTextAlign.Center, nameFont, ink);
            string detail = string.Create(CultureInfo.InvariantCulture, $"output {shape}   ·   {parameters:N0} params");
            canvas.DrawText(Drawing.Fit(detail, detailFont, BoxWidth - 16), rect.MidX, y + 44, SKTextAlign.Center, detailFont, ink);
            if (i + 1 < boxes.Count)
            {
                float x = rect.MidX, y0 = rect.Bottom + 2, y1 = rect.Bottom + Gap - 2;
                canvas.DrawLine(x, y0, x, y1 - 8, outline);
                using var builder = new SKPathBuilder();
                builder.MoveTo(x - 6, y1 - 9);
                builder.LineTo(x + 6, y1 - 9);
                builder.LineTo(x, y1);
                builder.Close();
                using var head = builder.Detach();
                canvas.DrawPath(head, arrow);
            }
        }

        // Key: the colour of each kind of layer present.
        var kinds = boxes.Select(b => b.Type).Distinct().ToList();
        float ly = height - LegendHeight + 6, lx = 16;
        foreach (var kind in kinds)
        {
            string text = kind == "Input" ? "input" : IsActivation(kind) ? $"{kind} (activation)" : kind;
            float w = 14 + 6 + detailFont.MeasureText(text) + 18;
            if (lx + w > Width - 8)
            {
                lx = 16;
                ly += 20;
            }
            using var fill = Drawing.Fill(ColorOf(kind));
            var swatch = SKRect.Create(lx, ly, 14, 14);
            canvas.DrawRect(swatch, fill);
            canvas.DrawRect(swatch, outline);
            canvas.DrawText(text, lx + 20, ly + 12, SKTextAlign.Left, detailFont, ink);
            lx += w;
        }
        return Drawing.EncodePng(surface);
    }

    private static bool IsActivation(string type) => type is "ReLU" or "Softmax";

    private static SKColor ColorOf(string type) => Colors.TryGetValue(type, out var c) ? c : Activation;
}
