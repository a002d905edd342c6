using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Data;

/// <summary>
/// Images kept as bytes (0-255, one byte per value, samples in NHWC order) with optional integer
/// labels. Pixels are scaled to [0, 1] a batch at a time, so 60,000 MNIST images take 47 MB.
/// </summary>
public sealed class Dataset
{
    /// <summary>Wraps <paramref name="pixels"/> (samples of <paramref name="sampleShape"/>, back to back) and, when not null, one label per sample; the arrays are kept, not copied.</summary>
    public Dataset(byte[] pixels, byte[]? labels, Shape sampleShape)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length % sampleShape.Size != 0)
        {
            throw new ArgumentException($"Pixel buffer length {pixels.Length} is not a multiple of the sample size {sampleShape.Size}.", nameof(pixels));
        }
        Count = pixels.Length / sampleShape.Size;
        if (labels is not null && labels.Length != Count)
        {
            throw new ArgumentException($"{labels.Length} labels for {Count} samples.", nameof(labels));
        }
        Pixels = pixels;
        Labels = labels;
        SampleShape = sampleShape;
    }

    /// <summary>Every sample's values, 0-255, samples back to back in NHWC order.</summary>
    public byte[] Pixels { get; }
    /// <summary>One label per sample, or null for unlabelled data.</summary>
    public byte[]? Labels { get; }
    /// <summary>The shape of one sample, e.g. (28, 28, 1).</summary>
    public Shape SampleShape { get; }
    /// <summary>The number of samples.</summary>
    public int Count { get; }
    /// <summary>Whether the samples have labels.</summary>
    public bool HasLabels => Labels is not null;

    /// <summary>The bytes of sample <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * SampleShape.Size, SampleShape.Size);

    /// <summary>The label of sample <paramref name="index"/>; throws when the dataset has no labels.</summary>
    public int Label(int index) => Labels is null
        ? throw new InvalidOperationException("This dataset has no labels.")
        : Labels[index];

    /// <summary>One more than the largest label.</summary>
    public int ClassCount() => Labels is null || Labels.Length == 0 ? 0 : Labels.Max() + 1;

    /// <summary>Copies the samples at <paramref name="indices"/> into <paramref name="x"/>, scaled by 1/255.</summary>
    // x: [indices.Length, H, W, C]
    public void CopyBatch(ReadOnlySpan<int> indices, Span<float> x, Span<int> labels)
    {
        int size = SampleShape.Size;
        for (int i = 0; i < indices.Length; i++)
        {
            Kernels.Elementwise.BytesToUnit(Image(indices[i]), x.Slice(i * size, size));
            if (!labels.IsEmpty)
            {
                labels[i] = Label(indices[i]);
            }
        }
    }

    /// <summary>A new dataset of the samples at <paramref name="indices"/>, in that order (the bytes are copied).</summary>
    public Dataset Subset(ReadOnlySpan<int> indices)
    {
        int size = SampleShape.Size;
        var pixels = new byte[indices.Length * size];
        byte[]? labels = Labels is null ? null : new byte[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * size, size));
            if (labels is not null)
            {
                labels[i] = Labels![indices[i]];
            }
        }
        return new Dataset(pixels, labels, SampleShape);
    }

    /// <summary>
    /// Splits off <paramref name="fraction"/> of each class (rounded) as a validation set, chosen by
    /// a seeded shuffle; both parts keep their original relative order.
    /// </summary>
    public (Dataset Train, Dataset Validation) SplitStratified(double fraction, ulong seed)
    {
        if (Labels is null)
        {
            throw new InvalidOperationException("A stratified split needs labels.");
        }
        if (!(fraction > 0 && fraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The validation fraction must be in (0, 1).");
        }
        var rng = Rng.Derive(seed, 0x5EED_5A11);
        var isValidation = new bool[Count];
        for (int cls = 0; cls < 256; cls++)
        {
            var members = new List<int>();
            for (int i = 0; i < Count; i++)
            {
                if (Labels[i] == cls)
                {
                    members.Add(i);
                }
            }
            if (members.Count == 0)
            {
                continue;
            }
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(members);
            rng.Shuffle(span);
            int take = (int)Math.Round(members.Count * fraction);
            for (int i = 0; i < take; i++)
            {
                isValidation[span[i]] = true;
            }
        }
        var train = new List<int>();
        var validation = new List<int>();
        for (int i = 0; i < Count; i++)
        {
            (isValidation[i] ? validation : train).Add(i);
        }
        if (train.Count == 0 || validation.Count == 0)
        {
            throw new InvalidOperationException($"A validation fraction of {fraction} of {Count} samples leaves one side empty.");
        }
        return (Subset(train.ToArray()), Subset(validation.ToArray()));
    }
}
