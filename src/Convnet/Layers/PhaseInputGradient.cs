using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// The input gradient of a stride-2 convolution that <see cref="Conv2D"/> runs over its input's
/// phases (<see cref="SpaceToDepth"/>), one phase at a time. The pixels of dx in phase (p, q) are the
/// gradient of the phase image's channels (p, q, ·): a 3×3 stride-1 convolution of dy by the phase
/// kernel's slice for those channels, turned 180°, over just the rows and columns of that phase that
/// are pixels of x. On `strong`'s 24×24 → 12×12 layer each phase is 12×12, 9 F(4×4) tiles, where the
/// whole phase image's gradient is 14×14 (16 tiles, its border rows and columns mostly padding), so
/// the products take 36 tiles of C·F sums instead of 16 of 4·C·F, and no phase image's gradient is
/// written for the batch (docs/benchmarks.md, "Issue 18, fifth session: the input gradient of stride-2 convolutions by phase").
/// </summary>
internal sealed class PhaseInputGradient
{
    private readonly ConvGeometry _g;
    private readonly int _filters, _maxPixels;
    // Phases in (p, q) order; none for a phase with no pixel of x (a 1-pixel-wide input).
    private readonly Phase[] _phases;
    // Whether the phases hold every pixel of x; pixels past the phase image (a 'valid' convolution's
    // last row or column, which no output reads) have no gradient and are cleared.
    private readonly bool _covers;
    // One phase's kernel [3, 3, C, F]; each image's phase gradient [rows, columns, C] at its place in the batch.
    private readonly float[] _slice;
    private float[] _out = [];

    private sealed record Phase(int P, int Q, int FirstRow, int FirstColumn, int Rows, int Columns, WinogradConvolution Convolution);

    /// <summary>The input gradient of the stride-2 convolution <paramref name="g"/> of <paramref name="filters"/> filters, whose phase kernel is 3×3.</summary>
    public PhaseInputGradient(in ConvGeometry g, int filters)
    {
        (_g, _filters) = (g, filters);
        var phases = new List<Phase>();
        // The phases run one after another in a work item: one set of transform buffers a thread for all.
        var scratch = new WinogradScratch();
        foreach (var (p, q, firstRow, firstColumn, rows, columns) in Phases(g, out _covers))
        {
            // Output row i of the phase convolution is the phase image's row firstRow + i: dy padded by 2 − firstRow.
            var convolution = new WinogradConvolution(g.OutHeight, g.OutWidth, filters, 2 - firstRow, 2 - firstColumn, rows, columns, g.Channels, scratch);
            phases.Add(new Phase(p, q, firstRow, firstColumn, rows, columns, convolution));
            _maxPixels = Math.Max(_maxPixels, rows * columns);
        }
        _phases = [.. phases];
        // Each phase's is a power of two dividing a chunk (or the chunk), so the largest is a multiple of every other.
        ItemImages = _phases.Length == 0 ? Chunks.Part : _phases.Max(phase => phase.Convolution.ItemImages);
        int run = _phases.Length == 0 ? 1 : _phases.Max(phase => phase.Convolution.RunImages);
        RunImages = ItemImages % run == 0 && _phases.All(phase => run % phase.Convolution.RunImages == 0) ? run : ItemImages;
        _slice = new float[9 * g.Channels * filters];
    }

    // Each phase with pixels of x: the phase image's rows and columns that are pixels of x.
    private static List<(int P, int Q, int FirstRow, int FirstColumn, int Rows, int Columns)> Phases(in ConvGeometry g, out bool covers)
    {
        var (height, width) = SpaceToDepth.Size(g);
        var rows = new[] { PhaseLines(g.Height, g.PadTop, height, 0), PhaseLines(g.Height, g.PadTop, height, 1) };
        var columns = new[] { PhaseLines(g.Width, g.PadLeft, width, 0), PhaseLines(g.Width, g.PadLeft, width, 1) };
        covers = rows[0].Count + rows[1].Count == g.Height && columns[0].Count + columns[1].Count == g.Width;
        var phases = new List<(int, int, int, int, int, int)>();
        for (int p = 0; p < 2; p++)
        {
            for (int q = 0; q < 2; q++)
            {
                if (rows[p].Count > 0 && columns[q].Count > 0)
                {
                    phases.Add((p, q, rows[p].First, columns[q].First, rows[p].Count, columns[q].Count));
                }
            }
        }
        return phases;
    }

    // Along one axis of x (size, top or left padding), the phase image's (first row, rows) of parity p that are pixels of x.
    private static (int First, int Count) PhaseLines(int size, int pad, int phaseSize, int p)
    {
        int first = (p - pad) & 1; // x's first row of this parity
        int index = (first + pad) >> 1;
        int count = first < size ? Math.Min((size - first + 1) / 2, phaseSize - index) : 0;
        if (index > 2)
        {
            throw new InvalidOperationException($"A stride-2 convolution padding {pad} rows reads x's phases from row {index} on; its input gradient by phase needs 2 or fewer.");
        }
        return (index, Math.Max(count, 0));
    }

    /// <summary>Values of the buffers of the input gradient of <paramref name="g"/> for <paramref name="threads"/> threads and a batch of <paramref name="batch"/>.</summary>
    public static long BufferValues(in ConvGeometry g, int filters, int threads, int batch)
    {
        long values = 9L * g.Channels * filters, scratch = 0;
        int maxPixels = 0;
        foreach (var (_, _, firstRow, firstColumn, rows, columns) in Phases(g, out _))
        {
            int pad = Math.Max(2 - firstRow, 2 - firstColumn);
            values += WinogradConvolution.BufferValues(filters, pad, rows, columns, g.Channels, threads: 0);
            scratch = Math.Max(scratch, WinogradConvolution.ScratchValues(filters, pad, rows, columns, g.Channels));
            maxPixels = Math.Max(maxPixels, rows * columns);
        }
        return values + threads * scratch + (long)Chunks.Count(batch) * Chunks.Size * maxPixels * g.Channels;
    }

    /// <summary>Makes room for <paramref name="threads"/> chunks run at once, of a batch of <paramref name="batch"/>.</summary>
    public void EnsureCapacity(int threads, int batch)
    {
        foreach (var phase in _phases)
        {
            phase.Convolution.EnsureCapacity(threads);
        }
        long length = (long)Chunks.Count(batch) * Chunks.Size * _maxPixels * _g.Channels;
        if (_out.Length < length)
        {
            _out = GC.AllocateArray<float>(checked((int)length), pinned: true);
        }
    }

    /// <summary>Takes the forward's phase kernel [3, 3, 4·C, F]: each phase's slice [3, 3, C, F], transformed for its convolution.</summary>
    public void SetKernel(ReadOnlySpan<float> phaseKernel, WorkerPool? pool = null)
    {
        int c = _g.Channels, cf = c * _filters;
        foreach (var phase in _phases)
        {
            int channels = (2 * phase.P + phase.Q) * c;
            for (int tap = 0; tap < 9; tap++)
            {
                phaseKernel.Slice((tap * 4 * c + channels) * _filters, cf).CopyTo(_slice.AsSpan(tap * cf, cf));
            }
            phase.Convolution.SetKernel(_slice, rotated: true, pool);
        }
    }

    /// <summary>Images of a work item of a pool that runs <see cref="Run"/> over parts of a chunk: whole groups of every phase's convolution.</summary>
    public int ItemImages { get; }

    /// <summary>Images of the smallest run of a work item that gives its images the item's values: a group of every phase's convolution.</summary>
    public int RunImages { get; }

    /// <summary>dx of <paramref name="count"/> images from their dy, the first being image <paramref name="first"/> of the batch (its place in the buffer of phase gradients).</summary>
    // dy: [count, OH, OW, F] → dx: [count, H, W, C] (overwritten)
    public void Run(int first, ReadOnlySpan<float> dy, int count, Span<float> dx)
    {
        int inSize = _g.Height * _g.Width * _g.Channels;
        if (!_covers)
        {
            dx[..(count * inSize)].Clear();
        }
        var buffer = _out.AsSpan(first * _maxPixels * _g.Channels, count * _maxPixels * _g.Channels);
        foreach (var phase in _phases)
        {
            int size = phase.Rows * phase.Columns * _g.Channels;
            var gradient = buffer[..(count * size)];
            phase.Convolution.Run(dy, count, default, relu: false, gradient);
            for (int i = 0; i < count; i++)
            {
                SpaceToDepth.ScatterPhase(gradient.Slice(i * size, size), _g, phase.P, phase.Q, phase.FirstRow, phase.FirstColumn, phase.Rows, phase.Columns, dx.Slice(i * inSize, inSize));
            }
        }
    }
}
