using Convnet.Data;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Cli.Datasets;

/// <summary>
/// "shapes", a synthetic colour set of our own making: 32×32 RGB pictures of six filled shapes
/// (circle, cross, ring, square, star, triangle) in a random colour, size, position and rotation
/// on a background that fades between two nearby random colours, with per-pixel noise. Every shape is its own mirror image, so
/// horizontal flips keep the class. Image i of a set is drawn from <c>Rng.Derive(seed, i)</c> with
/// class i mod 6: the same seed gives the same bytes, and a shorter set is a prefix of a longer one.
/// </summary>
/// <remarks>
/// Drawn by this code rather than a native rasterizer (whose SIMD paths may differ between CPUs):
/// each pixel's coverage is the fraction of a 4×4 grid of points inside the shape, which blends the
/// shape's colour over the background's. The sizes, contrast and noise were chosen so that the
/// default training reaches about 96% (see data/README.md): an earlier draft with radii from 5
/// pixels, any two background colours and noise of ±20 stayed at 65%.
/// </remarks>
internal static class Shapes
{
    /// <summary>The side of an image in pixels.</summary>
    public const int Side = 32;
    /// <summary>Images in the training set (2,000 per class).</summary>
    public const int TrainCount = 12_000;
    /// <summary>Images in the test set (400 per class).</summary>
    public const int TestCount = 2_400;
    /// <summary>The seeds of the two sets: independent draws of the same distribution.</summary>
    public const ulong TrainSeed = 1, TestSeed = 2;

    /// <summary>The classes, in ordinal order (as an image folder of them numbers its classes).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = Array.AsReadOnly(["circle", "cross", "ring", "square", "star", "triangle"]);

    /// <summary>(32, 32, 3).</summary>
    public static Shape SampleShape { get; } = Shape.Image(Side, Side, 3);

    /// <summary>The radius of the circle around a shape, in pixels.</summary>
    private const float MinRadius = 8, MaxRadius = 14;
    /// <summary>The least difference in brightness (0-255) between the shape's colour and each end of the background.</summary>
    private const float MinContrast = 60;
    /// <summary>How far (per channel, 0-255) the background's colour may drift from one side to the other.</summary>
    private const int MaxGradient = 60;
    /// <summary>The largest noise amplitude: each value moves by up to ± this much.</summary>
    private const int MaxNoise = 10;
    private const int Samples = 4;

    private enum Kind { Circle, Cross, Ring, Square, Star, Triangle }

    /// <summary>The training set (<see cref="TrainCount"/> images) and the test set (<see cref="TestCount"/>).</summary>
    public static (Dataset Train, Dataset Test) Create() => (Generate(TrainCount, TrainSeed), Generate(TestCount, TestSeed));

    /// <summary><paramref name="count"/> images, image i of class i mod 6, drawn from <c>Rng.Derive(seed, i)</c>.</summary>
    public static Dataset Generate(int count, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int size = SampleShape.Size;
        var pixels = new byte[count * size];
        var labels = new byte[count];
        // Each image from its own generator into its own slot: the bytes do not depend on the thread count.
        Parallel.For(0, count, i =>
        {
            labels[i] = (byte)(i % ClassNames.Count);
            Draw((Kind)labels[i], Rng.Derive(seed, (ulong)i), pixels.AsSpan(i * size, size));
        });
        return new Dataset(pixels, labels, SampleShape, ClassNames);
    }

    // image: [32, 32, 3]
    private static void Draw(Kind kind, Rng rng, Span<byte> image)
    {
        var from = RandomColor(ref rng);
        var to = new Color(Near(from.R, ref rng), Near(from.G, ref rng), Near(from.B, ref rng));
        float direction = rng.NextFloat(0, 2 * MathF.PI);
        var color = RandomColor(ref rng);
        for (int tries = 0; tries < 100 && !Contrasts(color, from, to); tries++)
        {
            color = RandomColor(ref rng);
        }
        if (!Contrasts(color, from, to))
        {
            color = from.Luma() < 128 ? new Color(255, 255, 255) : new Color(0, 0, 0);
        }
        float r = rng.NextFloat(MinRadius, MaxRadius);
        float cx = rng.NextFloat(r + 1, Side - 1 - r);
        float cy = rng.NextFloat(r + 1, Side - 1 - r);
        float angle = rng.NextFloat(0, 2 * MathF.PI);
        float shapeParameter = rng.NextFloat();
        int noise = rng.NextInt(MaxNoise + 1);

        Span<float> polygon = stackalloc float[24];
        polygon = Outline(kind, cx, cy, r, angle, shapeParameter, polygon);
        float inner = kind == Kind.Ring ? r * (1 - (0.25f + 0.2f * shapeParameter)) : 0;

        float dx = MathF.Cos(direction), dy = MathF.Sin(direction);
        for (int y = 0; y < Side; y++)
        {
            for (int x = 0; x < Side; x++)
            {
                // Gradient position 0..1 along the direction, across the image's diagonal extent.
                float t = Math.Clamp(0.5f + ((x + 0.5f - Side / 2f) * dx + (y + 0.5f - Side / 2f) * dy) / (Side * 1.2f), 0, 1);
                float coverage = Coverage(kind, x, y, cx, cy, r, inner, polygon);
                int at = (y * Side + x) * 3;
                for (int c = 0; c < 3; c++)
                {
                    float background = from[c] + (to[c] - from[c]) * t;
                    float value = background + (color[c] - background) * coverage;
                    int jitter = noise == 0 ? 0 : rng.NextInt(2 * noise + 1) - noise;
                    image[at + c] = (byte)Math.Clamp((int)MathF.Round(value) + jitter, 0, 255);
                }
            }
        }
    }

    /// <summary>The fraction of a 4×4 grid of points in pixel (x, y) that lies inside the shape.</summary>
    private static float Coverage(Kind kind, int x, int y, float cx, float cy, float r, float inner, ReadOnlySpan<float> polygon)
    {
        // Outside the circle around the shape (with a pixel's margin): nothing to sample.
        float px = x + 0.5f - cx, py = y + 0.5f - cy;
        if (px * px + py * py > (r + 1) * (r + 1))
        {
            return 0;
        }
        int inside = 0;
        for (int sy = 0; sy < Samples; sy++)
        {
            for (int sx = 0; sx < Samples; sx++)
            {
                float u = x + (sx + 0.5f) / Samples, v = y + (sy + 0.5f) / Samples;
                bool hit = kind switch
                {
                    Kind.Circle => Squared(u - cx, v - cy) <= r * r,
                    Kind.Ring => Squared(u - cx, v - cy) is float d && d <= r * r && d >= inner * inner,
                    _ => InsidePolygon(u, v, polygon),
                };
                inside += hit ? 1 : 0;
            }
        }
        return inside / (float)(Samples * Samples);
    }

    private static float Squared(float x, float y) => x * x + y * y;

    /// <summary>
    /// The corners (x0, y0, x1, y1, ...) of a polygonal shape of radius <paramref name="r"/> turned
    /// by <paramref name="angle"/>; <paramref name="shapeParameter"/> (0..1) sets a star's inner
    /// radius and a cross's arm width. Empty for the round shapes.
    /// </summary>
    private static Span<float> Outline(Kind kind, float cx, float cy, float r, float angle, float shapeParameter, Span<float> buffer)
    {
        int corners = 0;
        void Corner(Span<float> b, float radius, float theta)
        {
            b[2 * corners] = cx + radius * MathF.Cos(theta + angle);
            b[2 * corners + 1] = cy + radius * MathF.Sin(theta + angle);
            corners++;
        }
        switch (kind)
        {
            case Kind.Square:
                for (int k = 0; k < 4; k++)
                {
                    Corner(buffer, r, MathF.PI / 4 + k * MathF.PI / 2);
                }
                break;
            case Kind.Triangle:
                for (int k = 0; k < 3; k++)
                {
                    Corner(buffer, r, -MathF.PI / 2 + k * 2 * MathF.PI / 3);
                }
                break;
            case Kind.Star:
                // Five points; the inner corners at 0.38-0.5 of the radius.
                float innerRadius = r * (0.38f + 0.12f * shapeParameter);
                for (int k = 0; k < 10; k++)
                {
                    Corner(buffer, k % 2 == 0 ? r : innerRadius, -MathF.PI / 2 + k * MathF.PI / 5);
                }
                break;
            case Kind.Cross:
                // A plus sign: arms of half-width w reaching 0.92 r from the centre (corners stay inside r).
                float w = r * (0.18f + 0.12f * shapeParameter), reach = 0.92f * r;
                ReadOnlySpan<float> xs = [w, w, reach, reach, w, w, -w, -w, -reach, -reach, -w, -w];
                ReadOnlySpan<float> ys = [-reach, -w, -w, w, w, reach, reach, w, w, -w, -w, -reach];
                for (int k = 0; k < 12; k++)
                {
                    Corner(buffer, MathF.Sqrt(xs[k] * xs[k] + ys[k] * ys[k]), MathF.Atan2(ys[k], xs[k]));
                }
                break;
        }
        return buffer[..(2 * corners)];
    }

    /// <summary>Even-odd rule: whether a ray from (u, v) to the right crosses the polygon's edges an odd number of times.</summary>
    private static bool InsidePolygon(float u, float v, ReadOnlySpan<float> polygon)
    {
        int n = polygon.Length / 2;
        bool inside = false;
        for (int i = 0, j = n - 1; i < n; j = i++)
        {
            float xi = polygon[2 * i], yi = polygon[2 * i + 1], xj = polygon[2 * j], yj = polygon[2 * j + 1];
            if ((yi > v) != (yj > v) && u < xj + (v - yj) * (xi - xj) / (yi - yj))
            {
                inside = !inside;
            }
        }
        return inside;
    }

    private static Color RandomColor(ref Rng rng) => new(rng.NextInt(256), rng.NextInt(256), rng.NextInt(256));

    /// <summary>The gradient's far end: each channel within ± <see cref="MaxGradient"/> of the near end's.</summary>
    private static float Near(float value, ref Rng rng) => Math.Clamp(value + rng.NextInt(2 * MaxGradient + 1) - MaxGradient, 0, 255);

    /// <summary>Whether the shape's colour stands out from both ends of the background in brightness.</summary>
    private static bool Contrasts(Color color, Color from, Color to) =>
        MathF.Abs(color.Luma() - from.Luma()) >= MinContrast && MathF.Abs(color.Luma() - to.Luma()) >= MinContrast;

    private readonly record struct Color(float R, float G, float B)
    {
        public float this[int channel] => channel switch { 0 => R, 1 => G, _ => B };

        /// <summary>Brightness, ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B.</summary>
        public float Luma() => 0.299f * R + 0.587f * G + 0.114f * B;
    }
}
