using Convnet.Data;
using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>
/// Test-time augmentation: a classifier's scores averaged over fixed views of each image — the
/// image itself, then one-pixel shifts (right, left, down, up), rotations of ±5° and zooms of ±5%,
/// the first <see cref="Views"/> of them in that order. The views are small versions of the training
/// augmentation, so a model trained with it has seen their like; averaging smooths a prediction that
/// hangs on one pixel. Scores are summed in view order and divided by the count, so results do not
/// depend on the thread count. For a softmax model (and an ensemble) that is the mean probability.
/// </summary>
public sealed class TestTimeAugmentation : IClassifier
{
    /// <summary>Every view, in the order they are taken: identity first.</summary>
    public static IReadOnlyList<(string Name, double RotationDegrees, double Scale, int ShiftX, int ShiftY)> AllViews { get; } =
    [
        ("identity", 0, 1, 0, 0),
        ("shift right 1 px", 0, 1, 1, 0),
        ("shift left 1 px", 0, 1, -1, 0),
        ("shift down 1 px", 0, 1, 0, 1),
        ("shift up 1 px", 0, 1, 0, -1),
        ("rotate +5°", 5, 1, 0, 0),
        ("rotate −5°", -5, 1, 0, 0),
        ("zoom in 5%", 0, 1.05, 0, 0),
        ("zoom out 5%", 0, 0.95, 0, 0),
    ];

    /// <summary>The number of views there are (9), the most <see cref="Views"/> can be.</summary>
    public static int MaxViews => AllViews.Count;

    private readonly IClassifier _inner;
    private readonly bool _ownsInner;
    private readonly AffineMap[] _maps;

    /// <param name="inner">The classifier; it must take images (height × width × channels).</param>
    /// <param name="views">How many of <see cref="AllViews"/> to average, 1 (the image alone) to <see cref="MaxViews"/>.</param>
    /// <param name="ownsInner">Dispose <paramref name="inner"/> with this object.</param>
    public TestTimeAugmentation(IClassifier inner, int views, bool ownsInner = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (views < 1 || views > MaxViews)
        {
            throw new ArgumentOutOfRangeException(nameof(views), views, $"views must be in [1, {MaxViews}].");
        }
        if (!inner.InputShape.IsImage)
        {
            throw new ArgumentException($"Test-time augmentation needs image inputs, not {inner.InputShape}.", nameof(inner));
        }
        _inner = inner;
        _ownsInner = ownsInner;
        var s = inner.InputShape;
        _maps = [.. AllViews.Take(views).Select(v => new AugmentationSample(v.RotationDegrees, v.Scale, (double)v.ShiftX / s.Width, (double)v.ShiftY / s.Height, 0).ToMap(s.Height, s.Width))];
    }

    /// <summary>How many of <see cref="AllViews"/> are averaged, the first ones.</summary>
    public int Views => _maps.Length;
    /// <summary>The classifier whose scores are averaged.</summary>
    public IClassifier Inner => _inner;
    /// <inheritdoc/>
    public Shape InputShape => _inner.InputShape;
    /// <inheritdoc/>
    public int Classes => _inner.Classes;
    /// <inheritdoc/>
    public IReadOnlyList<string>? ClassNames => _inner.ClassNames;
    /// <inheritdoc/>
    public int ParameterCount => _inner.ParameterCount;

    /// <summary>Scores averaged over the views: [data.Count, Classes].</summary>
    public float[] Predict(Dataset data, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.SampleShape != InputShape)
        {
            throw new ArgumentException($"Samples are {data.SampleShape}, the model takes {InputShape}.", nameof(data));
        }
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be positive.");
        }
        int size = InputShape.Size;
        var result = new float[data.Count * Classes];
        var x = new float[Math.Min(batchSize, data.Count) * size];
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, data.Count - start);
            var block = x.AsSpan(0, count * size);
            for (int i = 0; i < count; i++)
            {
                Elementwise.BytesToUnit(data.Image(start + i), block.Slice(i * size, size));
            }
            Predict(block).CopyTo(result.AsSpan(start * Classes));
        }
        return result;
    }

    /// <summary>Scores averaged over the views for samples already scaled to floats. x: [n, H, W, C] → [n, Classes].</summary>
    public float[] Predict(ReadOnlySpan<float> x)
    {
        int size = InputShape.Size;
        if (x.Length == 0 || x.Length % size != 0)
        {
            throw new ArgumentException($"Input length {x.Length} is not a positive multiple of the sample size {size}.", nameof(x));
        }
        var sum = _inner.Predict(x);
        if (_maps.Length == 1)
        {
            return sum;
        }
        var s = InputShape;
        var warped = new float[x.Length];
        for (int v = 1; v < _maps.Length; v++)
        {
            for (int i = 0; i < x.Length; i += size)
            {
                AffineWarp.Bilinear(x.Slice(i, size), _maps[v], s.Height, s.Width, s.Channels, warped.AsSpan(i, size));
            }
            var scores = _inner.Predict(warped);
            Elementwise.Map<AddOperator>(sum, scores, sum);
        }
        for (int i = 0; i < sum.Length; i++)
        {
            sum[i] /= _maps.Length;
        }
        return sum;
    }

    /// <summary>The inner classifier's summary, then a line naming the views averaged.</summary>
    public string Summary() =>
        _inner.Summary() + $"Test-time augmentation: the mean over {Views} view(s): {string.Join(", ", AllViews.Take(Views).Select(v => v.Name))}.{Environment.NewLine}";

    /// <summary>Disposes <see cref="Inner"/> when this object owns it (the constructor's ownsInner); otherwise does nothing.</summary>
    public void Dispose()
    {
        if (_ownsInner)
        {
            _inner.Dispose();
        }
    }
}
