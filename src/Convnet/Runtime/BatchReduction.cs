using Convnet.Kernels;
using Convnet.Runtime;

namespace Convnet.Runtime;

/// <summary>
/// Parameter gradients summed over a whole batch (dW += aᵀ·dy, db += Σ dy), split into work items
/// that depend only on the sizes: fixed segments of the summed dimension whose partial products are
/// added in a fixed order, or, when the batch is too short to split, blocks of rows of dW. Either way
/// the result is the same for any thread count.
/// </summary>
internal sealed class BatchReduction
{
    private const int RowBlock = 48;
    private const int SegmentRows = 4096;

    private readonly Action<int> _rowBlockItem;
    private readonly Action<int> _segmentItem;
    private readonly Action<int> _sumItem;
    private readonly Action<int> _addPartialsItem;
    private float[] _packedDy = [];
    private bool _dyPacked;
    private float[] _partials = [];
    private float[] _a = [];
    private float[] _dy = [];
    private float[] _dw = [];
    private int _aOffset, _dyOffset, _dwOffset;
    private int _rows, _m, _n, _segments;
    // AccumulateColumnSums from a SampleRows source: its rows per sample, a buffer per segment.
    private SampleRows? _source;
    private int _rowsPerSample;
    private float[] _sampleBuffers = [];
    private readonly Action<int> _sourcedSumItem;

    /// <summary>Writes sample <paramref name="sample"/>'s rows of an operand that is never held whole into <paramref name="rows"/>.</summary>
    public delegate void SampleRows(int sample, Span<float> rows);

    public BatchReduction()
    {
        _rowBlockItem = RowBlockItem;
        _segmentItem = SegmentItem;
        _sumItem = SumItem;
        _sourcedSumItem = SourcedSumItem;
        _addPartialsItem = AddPartialsItem;
    }

    // dy: [rows, n] → db: [n] (accumulated column sums)
    public void AccumulateColumnSums(WorkerPool pool, float[] dy, int dyOffset, int rows, int n, float[] db, int dbOffset)
    {
        (_dy, _dyOffset, _rows, _n) = (dy, dyOffset, rows, n);
        _segments = (rows + SegmentRows - 1) / SegmentRows;
        EnsurePartials(_segments * n);
        pool.For(_segments, _sumItem);
        AddPartialsInOrder(db.AsSpan(dbOffset, n));
        _dy = [];
    }

    /// <summary>
    /// <see cref="AccumulateColumnSums(WorkerPool, float[], int, int, int, float[], int)"/> of a dy
    /// that <paramref name="source"/> makes sample by sample (<paramref name="rowsPerSample"/> rows of
    /// <paramref name="n"/> each) when a segment reaches it: the same segments, the same sums in the
    /// same order, the same bits.
    /// </summary>
    // dy: [samples · rowsPerSample, n], by sample → db: [n] (accumulated column sums)
    public void AccumulateColumnSums(WorkerPool pool, SampleRows source, int samples, int rowsPerSample, int n, float[] db, int dbOffset)
    {
        (_source, _rowsPerSample, _rows, _n) = (source, rowsPerSample, samples * rowsPerSample, n);
        _segments = (_rows + SegmentRows - 1) / SegmentRows;
        EnsurePartials(_segments * n);
        if (_sampleBuffers.Length < (long)_segments * rowsPerSample * n)
        {
            _sampleBuffers = new float[_segments * rowsPerSample * n];
        }
        pool.For(_segments, _sourcedSumItem);
        AddPartialsInOrder(db.AsSpan(dbOffset, n));
        _source = null;
    }

    // The segments' column sums added into target in segment order.
    private void AddPartialsInOrder(Span<float> target)
    {
        for (int s = 0; s < _segments; s++)
        {
            Elementwise.Map<AddOperator>(target, _partials.AsSpan(s * _n, _n), target);
        }
    }

    // A segment's rows, each sample's part of them made in the segment's buffer.
    private void SourcedSumItem(int segment)
    {
        int start = segment * SegmentRows, end = Math.Min(start + SegmentRows, _rows);
        int size = _rowsPerSample * _n;
        var sums = _partials.AsSpan(segment * _n, _n);
        var buffer = _sampleBuffers.AsSpan(segment * size, size);
        sums.Clear();
        for (int row = start; row < end;)
        {
            int sample = row / _rowsPerSample, first = row - sample * _rowsPerSample;
            int count = Math.Min(_rowsPerSample - first, end - row);
            _source!(sample, buffer);
            Elementwise.AddColumnSums(buffer.Slice(first * _n, count * _n), count, sums);
            row += count;
        }
    }

    private void SumItem(int segment)
    {
        int start = segment * SegmentRows;
        int count = Math.Min(SegmentRows, _rows - start);
        var sums = _partials.AsSpan(segment * _n, _n);
        sums.Clear();
        Elementwise.AddColumnSums(_dy.AsSpan(_dyOffset + start * _n, count * _n), count, sums);
    }

    private void EnsurePartials(int length)
    {
        if (_partials.Length < length)
        {
            _partials = new float[length];
        }
    }

    // a: [rows, m], dy: [rows, n] → dw: [m, n] (accumulated)
    public void Accumulate(WorkerPool pool, float[] a, int aOffset, float[] dy, int dyOffset, int rows, int m, int n, float[] dw, int dwOffset)
    {
        (_a, _aOffset, _dy, _dyOffset, _dw, _dwOffset, _rows, _m, _n) = (a, aOffset, dy, dyOffset, dw, dwOffset, rows, m, n);
        int blocks = (m + RowBlock - 1) / RowBlock;
        _segments = (rows + SegmentRows - 1) / SegmentRows;
        // Splitting the summed dimension packs each operand once; row blocks share one packing of dy.
        if (_segments < 2)
        {
            // dy packed once for every block when the GEMM cannot read it in place (each block
            // packed all of dy again: 12 times for strong's 8×8 convolution).
            _dyPacked = !Gemm.CanReadBInPlace(false, n, n);
            if (_dyPacked)
            {
                int size = Gemm.PackedSize(n, rows);
                if (_packedDy.Length < size)
                {
                    _packedDy = GC.AllocateArray<float>(size, pinned: true);
                }
                Gemm.PackB(dy.AsSpan(dyOffset), n, false, n, rows, _packedDy);
            }
            pool.For(blocks, _rowBlockItem);
        }
        else
        {
            EnsurePartials(_segments * m * n);
            pool.For(_segments, _segmentItem);
            // The partials are added in segment order by blocks of dw's rows, on every thread.
            pool.For(blocks, _addPartialsItem);
        }
        _a = _dy = _dw = [];
    }

    private void RowBlockItem(int block)
    {
        int r0 = block * RowBlock;
        int count = Math.Min(RowBlock, _m - r0);
        var a = _a.AsSpan(_aOffset + r0);
        var dw = _dw.AsSpan(_dwOffset + r0 * _n);
        if (_dyPacked)
        {
            Gemm.MultiplyPacked(a, _m, true, _packedDy, count, _n, _rows, dw, _n, accumulate: true);
        }
        else
        {
            Gemm.Multiply(a, _m, true, _dy.AsSpan(_dyOffset), _n, false, count, _n, _rows, dw, _n, accumulate: true);
        }
    }

    // The GEMM packs its transposed operand element by element, so transpose the narrower one:
    // with n < m compute the partial as dwᵀ = dyᵀ·a.
    private bool TransposedPartials => _n < _m;

    private void SegmentItem(int segment)
    {
        int start = segment * SegmentRows;
        int count = Math.Min(SegmentRows, _rows - start);
        var a = _a.AsSpan(_aOffset + start * _m);
        var dy = _dy.AsSpan(_dyOffset + start * _n);
        var partial = _partials.AsSpan(segment * _m * _n, _m * _n);
        if (TransposedPartials)
        {
            Gemm.Multiply(dy, _n, true, a, _m, false, _n, _m, count, partial, _m, accumulate: false);
        }
        else
        {
            Gemm.Multiply(a, _m, true, dy, _n, false, _m, _n, count, partial, _n, accumulate: false);
        }
    }

    // dw rows [r0, r0 + RowBlock) += the segments' partials, added in segment order.
    private void AddPartialsItem(int block)
    {
        int r0 = block * RowBlock;
        int rowCount = Math.Min(RowBlock, _m - r0);
        int m = _m, n = _n;
        var target = _dw.AsSpan(_dwOffset + r0 * n, rowCount * n);
        for (int s = 0; s < _segments; s++)
        {
            var partial = _partials.AsSpan(s * m * n, m * n);
            if (TransposedPartials)
            {
                // partial: [n, m] → dw: [m, n]
                for (int i = 0; i < rowCount; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        target[i * n + j] += partial[j * m + r0 + i];
                    }
                }
            }
            else
            {
                var rowsOfPartial = partial.Slice(r0 * n, rowCount * n);
                Elementwise.Map<AddOperator>(target, rowsOfPartial, target);
            }
        }
    }
}
