using System.Globalization;
using Convnet.Kernels;
using Convnet.Runtime;

namespace Convnet.Data;

/// <summary>
/// Random geometric data augmentation, as Keras's ImageDataGenerator (rotation_range, zoom_range,
/// width/height_shift_range, shear_range) and, optionally, RandomFlip("horizontal"): during training
/// each image is warped by its own random affine transform about the image centre, with bilinear sampling and zero fill outside (see
/// <see cref="AffineWarp"/>). Each image's transform is drawn from a random stream keyed by
/// (seed, epoch, dataset index) alone (<see cref="Stream"/>), so it does not depend on the batch,
/// its order or the thread count. The default instance is the identity.
/// </summary>
public sealed record Augmentation
{
    /// <param name="rotationDegrees">Largest |angle| of rotation, in degrees, in [0, 180].</param>
    /// <param name="zoom">Each axis's scale is drawn from [1 − zoom, 1 + zoom], independently as Keras's zoom_range; zoom in [0, 1).</param>
    /// <param name="shiftFraction">Largest shift, as a fraction of the width (horizontally) and height (vertically), in [0, 1].</param>
    /// <param name="shear">Largest |shear angle|, in degrees, in [0, 90).</param>
    /// <param name="horizontalFlip">Mirror each image left to right with probability 1/2 (for data whose mirror images are the same class).</param>
    public Augmentation(double rotationDegrees = 0, double zoom = 0, double shiftFraction = 0, double shear = 0, bool horizontalFlip = false)
    {
        Check(rotationDegrees, 0, 180, upperInclusive: true, nameof(rotationDegrees));
        Check(zoom, 0, 1, upperInclusive: false, nameof(zoom));
        Check(shiftFraction, 0, 1, upperInclusive: true, nameof(shiftFraction));
        Check(shear, 0, 90, upperInclusive: false, nameof(shear));
        RotationDegrees = rotationDegrees;
        Zoom = zoom;
        ShiftFraction = shiftFraction;
        Shear = shear;
        HorizontalFlip = horizontalFlip;
    }

    /// <summary>No augmentation.</summary>
    public static Augmentation None { get; } = new();

    /// <summary>Largest |rotation angle| in degrees; positive angles turn the image anticlockwise as displayed.</summary>
    public double RotationDegrees { get; }

    /// <summary>Each axis's scale is uniform in [1 − Zoom, 1 + Zoom], drawn independently; a scale above 1 magnifies.</summary>
    public double Zoom { get; }

    /// <summary>Shifts are uniform in [−ShiftFraction, ShiftFraction] of the width and, independently, of the height.</summary>
    public double ShiftFraction { get; }

    /// <summary>Largest |shear angle| in degrees (Keras's shear_range).</summary>
    public double Shear { get; }

    /// <summary>Whether each image is mirrored left to right with probability 1/2, as Keras's RandomFlip("horizontal").</summary>
    public bool HorizontalFlip { get; }

    /// <summary>True when every transform drawn is the identity: training is then bit-identical to no augmentation.</summary>
    public bool IsIdentity => IsWarpIdentity && !HorizontalFlip;

    /// <summary>True when the rotation, zoom, shift and shear are all 0.</summary>
    private bool IsWarpIdentity => RotationDegrees == 0 && Zoom == 0 && ShiftFraction == 0 && Shear == 0;

    /// <summary>The random stream of the image at dataset index <paramref name="index"/> in epoch <paramref name="epoch"/> (0-based).</summary>
    public static Rng Stream(ulong seed, int epoch, int index)
    {
        ulong epochKey = Rng.Derive(seed, 0xA06E_0000_0000UL + (ulong)(uint)epoch).NextUInt64();
        return Rng.Derive(epochKey, (ulong)(uint)index);
    }

    /// <summary>
    /// Draws one transform: angle, horizontal scale, horizontal shift, vertical shift, shear and
    /// vertical scale, in that order, always six numbers whatever the ranges (a zero range gives
    /// exactly the identity value), then, only with <see cref="HorizontalFlip"/>, a seventh for the
    /// mirror, so that a seed without it gives the transforms it always gave. The two scales are
    /// independent, as Keras's zoom_range draws zx, zy.
    /// </summary>
    public AugmentationSample Draw(ref Rng rng)
    {
        double angle = Symmetric(ref rng, RotationDegrees);
        double scaleX = 1 + Symmetric(ref rng, Zoom);
        double shiftX = Symmetric(ref rng, ShiftFraction);
        double shiftY = Symmetric(ref rng, ShiftFraction);
        double shear = Symmetric(ref rng, Shear);
        double scaleY = 1 + Symmetric(ref rng, Zoom);
        bool flip = HorizontalFlip && rng.NextDouble() < 0.5;
        return new AugmentationSample(angle, scaleX, shiftX, shiftY, shear) { ScaleY = scaleY, Flip = flip };
    }

    /// <summary>Uniform in [−range, range); exactly 0 when range is 0.</summary>
    private static double Symmetric(ref Rng rng, double range)
    {
        double u = rng.NextDouble();
        return range == 0 ? 0 : range * (2 * u - 1);
    }

    /// <summary>
    /// The compact form <see cref="Parse"/> reads: "none" or e.g. "rotation=10,zoom=0.1,shift=0.1,shear=0",
    /// then ",flip" with <see cref="HorizontalFlip"/> ("flip" alone when it is all).
    /// </summary>
    public override string ToString()
    {
        if (IsIdentity)
        {
            return "none";
        }
        string warp = string.Create(CultureInfo.InvariantCulture, $"rotation={RotationDegrees:R},zoom={Zoom:R},shift={ShiftFraction:R},shear={Shear:R}");
        return !HorizontalFlip ? warp : IsWarpIdentity ? "flip" : warp + ",flip";
    }

    /// <summary>
    /// Reads "none" or comma-separated tokens: <c>key=value</c> with keys rotation (degrees), zoom,
    /// shift (fraction) and shear (degrees), missing keys 0, and <c>flip</c> for
    /// <see cref="HorizontalFlip"/>. Throws <see cref="FormatException"/> naming the offending token.
    /// </summary>
    public static Augmentation Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        if (trimmed.Length == 0 || trimmed.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return None;
        }
        double rotation = 0, zoom = 0, shift = 0, shear = 0;
        bool flip = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string raw in trimmed.Split(','))
        {
            string token = raw.Trim();
            if (token.Equals("flip", StringComparison.OrdinalIgnoreCase))
            {
                flip = seen.Add("flip") ? true : throw new FormatException("token 'flip': flip is given twice");
                continue;
            }
            int eq = token.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"token '{token}' is not key=value (keys: rotation, zoom, shift, shear) or flip");
            }
            string key = token[..eq].Trim().ToLowerInvariant();
            string valueText = token[(eq + 1)..].Trim();
            if (!double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            {
                throw new FormatException($"token '{token}': '{valueText}' is not a number");
            }
            if (!seen.Add(key))
            {
                throw new FormatException($"token '{token}': {key} is given twice");
            }
            switch (key)
            {
                case "rotation": rotation = value; break;
                case "zoom": zoom = value; break;
                case "shift": shift = value; break;
                case "shear": shear = value; break;
                case "flip": throw new FormatException($"token '{token}': flip takes no value (write 'flip' for a mirror with probability 1/2)");
                default: throw new FormatException($"token '{token}': unknown key '{key}' (keys: rotation, zoom, shift, shear; and flip)");
            }
            try
            {
                _ = new Augmentation(rotation, zoom, shift, shear);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new FormatException($"token '{token}': {e.Message.Split(" (Parameter", 2)[0]}", e);
            }
        }
        return new Augmentation(rotation, zoom, shift, shear, flip);
    }

    private static void Check(double value, double low, double high, bool upperInclusive, string name)
    {
        bool ok = value >= low && (upperInclusive ? value <= high : value < high);
        if (!ok)
        {
            string interval = upperInclusive ? $"[{low}, {high}]" : $"[{low}, {high})";
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in {interval}, got {value.ToString(CultureInfo.InvariantCulture)}.");
        }
    }
}

/// <summary>
/// One drawn transform: rotation and shear in degrees, scale (1 = none) of the horizontal axis and,
/// when <see cref="ScaleY"/> is not set, of both; shifts as fractions of width and height; and
/// whether the image is first mirrored left to right (<see cref="Flip"/>).
/// </summary>
public readonly record struct AugmentationSample(double RotationDegrees, double Scale, double ShiftX, double ShiftY, double ShearDegrees)
{
    private readonly double? _scaleY;

    /// <summary>The vertical axis's scale; <see cref="Scale"/> unless set.</summary>
    public double ScaleY
    {
        get => _scaleY ?? Scale;
        init => _scaleY = value;
    }

    /// <summary>Whether the input is mirrored left to right (column x ↔ width − 1 − x) before the warp.</summary>
    public bool Flip { get; init; }

    /// <summary>
    /// The inverse map (output pixel → input coordinate) of the forward transform
    /// out − c = R(θ)·H(φ)·S·(in − c) + t, where c is the image centre, R turns anticlockwise as
    /// displayed (rows grow downwards), H is Keras's shear [[1, −sin φ], [0, cos φ]],
    /// S = diag(Scale, ScaleY) and t = (ShiftX·width, ShiftY·height); with <see cref="Flip"/>, "in" is
    /// the mirrored input, so the input column is width − 1 − u. Computed in double, stored in float:
    /// a mirror alone maps column x to exactly width − 1 − x, so it copies pixels bit for bit.
    /// </summary>
    public AffineMap ToMap(int height, int width)
    {
        double theta = RotationDegrees * (Math.PI / 180), phi = ShearDegrees * (Math.PI / 180);
        double cos = Math.Cos(theta), sin = Math.Sin(theta);
        if (RotationDegrees == 0)
        {
            (cos, sin) = (1, 0);
        }
        double shearSin = ShearDegrees == 0 ? 0 : Math.Sin(phi), shearCos = ShearDegrees == 0 ? 1 : Math.Cos(phi);
        // Forward M = [[cos, sin], [−sin, cos]] · [[1, −shearSin], [0, shearCos]] · diag(sx, sy).
        double m00 = Scale * cos, m01 = ScaleY * (-cos * shearSin + sin * shearCos);
        double m10 = Scale * -sin, m11 = ScaleY * (sin * shearSin + cos * shearCos);
        double det = m00 * m11 - m01 * m10;
        double a00 = m11 / det, a01 = -m01 / det, a10 = -m10 / det, a11 = m00 / det;
        double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
        // in = A·(out − c − t) + c
        double ox = cx + ShiftX * width, oy = cy + ShiftY * height;
        double bx = cx - (a00 * ox + a01 * oy);
        double by = cy - (a10 * ox + a11 * oy);
        if (Flip)
        {
            (a00, a01, bx) = (-a00, -a01, (width - 1) - bx);
        }
        return new AffineMap((float)a00, (float)a01, (float)bx, (float)a10, (float)a11, (float)by);
    }
}
