using Convnet.Runtime;

namespace Convnet.Layers;

/// <summary>
/// The transform buffers of Winograd convolutions, a set per thread (a work item rents one, see
/// <see cref="BufferSlots"/>): each convolution's own, or one for convolutions that run one after
/// another in the same work item (<see cref="PhaseInputGradient"/>'s phases), so the set a thread
/// uses stays in its L2 from one to the next (a set each for strong's four phases is 1.4 MB a thread).
/// </summary>
internal sealed class WinogradScratch
{
    private float[] _transformed = [], _products = [], _padded = [];
    private int _transformedSize, _productsSize, _paddedSize;

    public BufferSlots Slots { get; } = new();

    /// <summary>Room for <paramref name="threads"/> sets of at least the given values each: transformed inputs V, products M (and the transformed output gradient D), one padded image.</summary>
    public void EnsureCapacity(int threads, int transformed, int products, int padded)
    {
        bool more = Slots.EnsureCapacity(threads);
        if (!more && transformed <= _transformedSize && products <= _productsSize && padded <= _paddedSize)
        {
            return;
        }
        _transformedSize = Math.Max(_transformedSize, transformed);
        _productsSize = Math.Max(_productsSize, products);
        _paddedSize = Math.Max(_paddedSize, padded);
        int sets = Slots.Count;
        _transformed = GC.AllocateArray<float>(checked(sets * _transformedSize), pinned: true);
        _products = GC.AllocateArray<float>(checked(sets * _productsSize), pinned: true);
        _padded = GC.AllocateArray<float>(checked(sets * _paddedSize), pinned: true);
    }

    public Span<float> Transformed(int slot, int length) => _transformed.AsSpan(slot * _transformedSize, length);

    public Span<float> Products(int slot, int length) => _products.AsSpan(slot * _productsSize, length);

    public Span<float> Padded(int slot, int length) => _padded.AsSpan(slot * _paddedSize, length);
}
