using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Data;

/// <summary>
/// Images kept as bytes (0-255, one byte per value, samples in NHWC order) with optional integer
/// labels. Pixels are scaled to [0, 1] a batch at a time, so 60,000 MNIST images take 47 MB.
/// A label is a class index; <see cref="ClassNames"/>, when present, names each index (Keras's
/// class_names: the class folders of an image folder, or a CSV's text labels in ordinal order).
/// </summary>
public sealed class Dataset
{
    /// <summary>The most classes a dataset can have: a label is one byte.</summary>
    public const int MaxClasses = 256;

    /// <summary>
    /// Wraps <paramref name="pixels"/> (samples of <paramref name="sampleShape"/>, back to back) and, when not null, one label per
    /// sample; the arrays are kept, not copied. <paramref name="classNames"/>, when not null, names
    /// class 0, 1, ...: distinct, non-empty, at most <see cref="MaxClasses"/>, and every label below their count.
    /// </summary>
    public Dataset(byte[] pixels, byte[]? labels, Shape sampleShape, IReadOnlyList<string>? classNames = null)
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
        if (classNames is not null)
        {
            CheckClassNames(classNames, nameof(classNames));
            if (labels is not null && labels.Length > 0 && labels.Max() >= classNames.Count)
            {
                throw new ArgumentException($"Label {labels.Max()} but only {classNames.Count} class names.", nameof(classNames));
            }
        }
        Pixels = pixels;
        Labels = labels;
        SampleShape = sampleShape;
        ClassNames = classNames is null ? null : Array.AsReadOnly(classNames.ToArray());
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="names"/> are 1 to <see cref="MaxClasses"/> distinct, non-empty names.</summary>
    public static void CheckClassNames(IReadOnlyList<string> names, string argument)
    {
        ArgumentNullException.ThrowIfNull(names, argument);
        if (names.Count is 0 or > MaxClasses)
        {
            throw new ArgumentException($"{names.Count} class names; 1 to {MaxClasses} are possible.", argument);
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            if (string.IsNullOrEmpty(names[i]))
            {
                throw new ArgumentException($"Class name {i} is empty.", argument);
            }
            if (!seen.Add(names[i]))
            {
                throw new ArgumentException($"Class name '{names[i]}' appears twice.", argument);
            }
        }
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

    /// <summary>The name of each class index, or null when the classes are just their numbers.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>The number of class names when there are some, else one more than the largest label.</summary>
    public int ClassCount() => ClassNames?.Count ?? (Labels is null || Labels.Length == 0 ? 0 : Labels.Max() + 1);

    /// <summary>The name of class <paramref name="label"/>: its class name, or its number.</summary>
    public string ClassName(int label) => ClassNames is { } names && (uint)label < (uint)names.Count
        ? names[label]
        : label.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The same samples labelled by their index in <paramref name="classNames"/> (a model's classes),
    /// matched by name; the pixels are shared. A class of this dataset that is not among them is an
    /// <see cref="ArgumentException"/> naming it. Without class names of its own, the labels are kept
    /// as they are, and must be below the count.
    /// </summary>
    public Dataset WithClassNames(IReadOnlyList<string> classNames)
    {
        CheckClassNames(classNames, nameof(classNames));
        if (Labels is null || ClassNames is null)
        {
            return new Dataset(Pixels, Labels, SampleShape, classNames);
        }
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < classNames.Count; i++)
        {
            index[classNames[i]] = i;
        }
        var map = new byte[ClassNames.Count];
        for (int c = 0; c < ClassNames.Count; c++)
        {
            map[c] = index.TryGetValue(ClassNames[c], out int target)
                ? (byte)target
                : throw new ArgumentException($"Class '{ClassNames[c]}' is not among the {classNames.Count} classes ({string.Join(", ", classNames.Take(10))}{(classNames.Count > 10 ? ", ..." : "")}).", nameof(classNames));
        }
        var labels = new byte[Labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = map[Labels[i]];
        }
        return new Dataset(Pixels, labels, SampleShape, classNames);
    }

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
        return new Dataset(pixels, labels, SampleShape, ClassNames);
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
