using System.Runtime.Intrinsics;
using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Inference;

/// <summary>
/// A convolution [+ ReLU] [+ per-channel affine] [+ max pool], in that order, the later ones applied
/// to the output while it is in cache: a direct kernel for inputs of a few channels, Winograd for
/// 3×3 stride-1 "valid" kernels and for 5×5 and 6×6 stride-2 ones (as a 3×3 stride-1 convolution
/// over the input's space-to-depth, <see cref="SpaceToDepth"/>), else im2col and a GEMM with
/// prepacked weights.
/// </summary>
internal sealed class ConvStage : InferenceStage
{
    private const int GroupRows = 96;
    // Up to this many rows, products of a few rows at a time beat the blocked GEMM (measured: 4 tiles
    // of strong's 8×8 map 53 → 28 µs; its 10×10 map's 9 tiles were slower than the GEMM).
    private const int FewRows = Gemm.SmallRows;
    private readonly ConvGeometry _g;
    private readonly int _filters;
    private readonly bool _same;
    private readonly float[] _kernel;
    private readonly float[] _bias;
    private bool _relu;
    private float[] _scale = [];
    private float[] _shift = [];
    private ConvGeometry? _pool;
    // Chosen by Complete, once the fused layers are known.
    private bool _winograd;
    // Winograd over the phases of a stride-2 input (space-to-depth), and the 3×3 stride-1 geometry it runs on (_g itself without phases).
    private bool _phases;
    private ConvGeometry _wg;
    // One image split over threads by filters rather than by tile rows (a small map: see Complete).
    private bool _filterParts;
    // A GEMM stage of one output pixel (strong's 1×1 map) split over threads by columns (bands of filters).
    private bool _columnParts;
    // F(4×4, 3×3) rather than F(2×2, 3×3): 36 points.
    private bool _four;
    private int _points;
    private bool _direct;
    private float[] _packed = [];
    private int _packedPoint;
    private int _tileRows, _tileColumns;
    private int _images;

    // kernel: [K, K, C, F] (the layer's layout), bias: [F]; output: without the layers it may take in.
    public ConvStage(Shape input, int filters, int kernelSize, int stride, bool same, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, string name, Shape output)
        : base(name, output)
    {
        _g = ConvGeometry.Create(input.Height, input.Width, input.Channels, kernelSize, stride, same);
        _filters = filters;
        _same = same;
        _kernel = kernel.ToArray();
        _bias = bias.ToArray();
    }

    public override long Flops => 2L * _g.OutPixels * _filters * _g.PatchSize;

    public override bool TryRectify(string name)
    {
        if (_relu || _scale.Length > 0 || _pool is not null)
        {
            return false;
        }
        _relu = true;
        Description += " + " + name;
        return true;
    }

    public override bool TryAffine(float[] scale, float[] shift, string name)
    {
        if (_scale.Length > 0 || _pool is not null)
        {
            return false;
        }
        (_scale, _shift) = (scale, shift);
        Description += " + " + name;
        return true;
    }

    public override bool TryMaxPool(int poolSize, int stride, Shape output, string name)
    {
        if (_pool is not null)
        {
            return false;
        }
        _pool = ConvGeometry.Create(_g.OutHeight, _g.OutWidth, _filters, poolSize, stride, same: false);
        Output = output;
        Description += " + " + name;
        return true;
    }

    public override void Complete()
    {
        bool pool2 = _pool is not { } p || (p.KernelHeight == 2 && p.Stride == 2);
        // A few input channels: im2col rows of K·K·C values are too short for a GEMM.
        _direct = _g.Channels <= 4 && DirectConvolution.IsAccelerated(_filters) && pool2;
        // A 5×5 or 6×6 stride-2 kernel as 3×3 over 4·C phase channels (smaller kernels gain nothing or little).
        _phases = !_direct && _g.Stride == 2 && SpaceToDepth.Taps(_g.KernelHeight) == 3 && 4 * _g.Channels >= 8 && pool2;
        _winograd = _phases || (!_direct && _g.KernelHeight == 3 && _g.Stride == 1 && !_same && _g.Channels >= 8 && pool2);
        _wg = _g;
        if (_phases)
        {
            var (height, width) = SpaceToDepth.Size(_g);
            _wg = ConvGeometry.Create(height, width, 4 * _g.Channels, 3, 1, same: false);
        }
        if (_direct)
        {
            _packed = _kernel;
            _images = 1;
            Description += " (direct)";
        }
        else if (_winograd)
        {
            PackWinograd();
            Description += (_phases ? " (phases, " : " (") + (_four ? "Winograd 4×4)" : "Winograd 2×2)");
        }
        else
        {
            _packed = new float[Gemm.PackedSize(_filters, _g.PatchSize)];
            Gemm.PackB(_kernel, _filters, false, _filters, _g.PatchSize, _packed);
            // At batch 1 its weights are the traffic (strong's 524 KB): each thread reads its share, as Dense does.
            _columnParts = _g.OutPixels == 1 && _pool is null && Gemv.CanSplitColumns && _filters >= SplitParts * Gemv.ColumnBlock;
            _images = Math.Clamp((GroupRows + _g.OutPixels - 1) / _g.OutPixels, 1, Chunks.Size);
        }
    }

    private void PackWinograd()
    {
        int c = _wg.Channels;
        // The larger tiles when they take fewer products (not with a fused pool: a 4×4 tile is four windows).
        var (rows2, columns2) = Winograd.Tiles(_wg.OutHeight, _wg.OutWidth);
        var (rows4, columns4) = Winograd4.Tiles(_wg.OutHeight, _wg.OutWidth);
        // Over phases F(2×2): at batch 1 the products stream the transformed weights, 2.25× more with
        // F(4×4) (strong's 12×12 map: 590 against 262 KB), and F(2×2) measured faster (strong on one
        // thread 313 → 275 µs, F(4×4) 306 µs); batched F(4×4) was 7% faster, but one plan runs both.
        _four = !_phases && _pool is null && rows4 * columns4 * Winograd4.Points < 0.85 * rows2 * columns2 * Winograd.Points;
        _points = _four ? Winograd4.Points : Winograd.Points;
        var kernel = _kernel;
        if (_phases)
        {
            kernel = new float[9 * c * _filters];
            SpaceToDepth.TransformWeights(_kernel, _g.KernelHeight, _g.Channels, _filters, kernel);
        }
        var u = new float[_points * c * _filters];
        if (_four)
        {
            Winograd4.TransformWeights(kernel, c, _filters, u);
        }
        else
        {
            Winograd.TransformWeights(kernel, c, _filters, u);
        }
        _packedPoint = Gemm.PackedSize(_filters, c);
        _packed = new float[_points * _packedPoint];
        for (int p = 0; p < _points; p++)
        {
            Gemm.PackB(u.AsSpan(p * c * _filters, c * _filters), _filters, false, _filters, c, _packed.AsSpan(p * _packedPoint, _packedPoint));
        }
        // With the pool fused, each tile is one pooling window: the row or column the pool drops is never computed.
        (_tileRows, _tileColumns) = _pool is { } pg ? (pg.OutHeight, pg.OutWidth) : _four ? (rows4, columns4) : (rows2, columns2);
        // A split image's few tiles (one product of up to 4 rows per point) are split by filters: each
        // thread then streams half the transformed weights rather than all of them for half the tiles
        // (strong's 4×4 map over phases, 1 MB of weights: 40 → 28 µs on two threads; its 9-tile
        // 10×10 map measured slower so). Whole panels of the packed weights: one block of k ≤ KC.
        _filterParts = Vector256.IsHardwareAccelerated && _filters % (SplitParts * Gemm.NR) == 0 && c <= Gemm.KC && _tileRows * _tileColumns <= FewRows;
        _images = Math.Clamp(GroupRows / (_tileRows * _tileColumns), 1, Chunks.Size);
    }

    public override void Reserve(ref InferenceWorkspaceSizes sizes)
    {
        if (_direct)
        {
            return;
        }
        if (_winograd)
        {
            int tiles = _images * _tileRows * _tileColumns;
            sizes.Transformed = Math.Max(sizes.Transformed, _points * Winograd.PointStride(tiles * _wg.Channels));
            sizes.Products = Math.Max(sizes.Products, _points * Winograd.PointStride(tiles * _filters));
            if (_phases)
            {
                // One image's phases at a time (each part of a split image has its own workspace).
                sizes.Phases = Math.Max(sizes.Phases, PhaseImage);
            }
            return;
        }
        sizes.Columns = Math.Max(sizes.Columns, _images * _g.OutPixels * _g.PatchSize);
        if (_pool is not null)
        {
            sizes.Scratch = Math.Max(sizes.Scratch, _images * _g.OutPixels * _filters);
        }
    }

    public override void Run(Span<float> x, int count, Span<float> y, InferenceWorkspace ws)
    {
        int inSize = _g.Height * _g.Width * _g.Channels;
        int outSize = Output.Size;
        for (int i = 0; i < count; i += _images)
        {
            int images = Math.Min(_images, count - i);
            if (_direct)
            {
                var epilogue = new ConvEpilogue(_bias, _relu, _scale, _shift, _pool is not null);
                for (int j = 0; j < images; j++)
                {
                    DirectConvolution.Forward(x.Slice((i + j) * inSize, inSize), _packed, _g, _filters, epilogue, y.Slice((i + j) * outSize, outSize));
                }
            }
            else if (_winograd)
            {
                RunWinograd(x.Slice(i * inSize, images * inSize), images, y.Slice(i * outSize, images * outSize), ws);
            }
            else
            {
                RunGemm(x.Slice(i * inSize, images * inSize), images, y.Slice(i * outSize, images * outSize), ws);
            }
        }
    }

    // x: [images, H, W, C] → y: [images, ...Output]
    private void RunWinograd(Span<float> x, int images, Span<float> y, InferenceWorkspace ws)
    {
        int perImage = _tileRows * _tileColumns;
        int tiles = images * perImage;
        int inSize = _g.Height * _g.Width * _g.Channels;
        int outSize = Output.Size;
        for (int j = 0; j < images; j++)
        {
            TransformInput(x.Slice(j * inSize, inSize), 0, _tileRows, j * perImage, tiles, ws);
        }
        Products(0, tiles, tiles, ws);
        for (int j = 0; j < images; j++)
        {
            TransformOutput(j * perImage, 0, _tileRows, tiles, y.Slice(j * outSize, outSize), ws);
        }
    }

    // Values of one image's phases: [H', W', 4·C].
    private int PhaseImage => _wg.Height * _wg.Width * _wg.Channels;

    // Tile rows [first, end) of one image x: [H, W, C] → rows firstTile + first·columns.. of v: [points][tiles, C'];
    // with phases, through the workspace's phase buffer.
    private void TransformInput(Span<float> x, int first, int end, int firstTile, int tiles, InferenceWorkspace ws)
    {
        int c = _wg.Channels;
        int vStride = Winograd.PointStride(tiles * c);
        var v = ws.Transformed.AsSpan(0, _points * vStride);
        // The band's tiles read the image from row first·m on (m: output rows per tile), m + 2 rows a tile.
        int m = _four ? 4 : 2;
        int top = first * m;
        int height = _wg.Height - top;
        ReadOnlySpan<float> band;
        if (_phases)
        {
            // Only the phase rows the band reads; the tiles read rows past them as 0, as past the image.
            height = Math.Min(height, (end - first) * m + 2);
            var phases = ws.Phases.AsSpan(0, height * _wg.Width * c);
            SpaceToDepth.Forward(x, _g, top, height, phases);
            band = phases;
        }
        else
        {
            band = x[(top * _wg.Width * c)..];
        }
        int start = firstTile + first * _tileColumns;
        if (_four)
        {
            Winograd4.TransformInput(band, height, _wg.Width, c, end - first, _tileColumns, v, start, vStride);
        }
        else
        {
            Winograd.TransformInput(band, height, _wg.Width, c, end - first, _tileColumns, v, start, vStride);
        }
    }

    // Tiles [first, first + count) of every point: m[p] = v[p]·u[p], [count, C]·[C, F], or the
    // filters [firstFilter, endFilter) of it (whole panels of packed u: one block of k ≤ KC).
    private void Products(int first, int count, int tiles, InferenceWorkspace ws, int firstFilter = 0, int endFilter = -1)
    {
        int c = _wg.Channels;
        int n = (endFilter < 0 ? _filters : endFilter) - firstFilter;
        int vStride = Winograd.PointStride(tiles * c), mStride = Winograd.PointStride(tiles * _filters);
        var v = ws.Transformed.AsSpan(0, _points * vStride);
        var m = ws.Products.AsSpan(0, _points * mStride);
        for (int p = 0; p < _points; p++)
        {
            var packed = _packed.AsSpan(p * _packedPoint + firstFilter * c, Gemm.PackedSize(n, c));
            int vAt = p * vStride + first * c, mAt = p * mStride + first * _filters + firstFilter;
            if (count <= FewRows)
            {
                // One image of a small map (strong's 8×8 at batch 1: 4 tiles): the one-row products' sums.
                for (int i = 0; i < count; i += Gemm.SmallRows)
                {
                    int rows = Math.Min(Gemm.SmallRows, count - i);
                    Gemv.MultiplyPackedRows(v[(vAt + i * c)..], c, rows, packed, n, c, m[(mAt + i * _filters)..], _filters, default, relu: false);
                }
                continue;
            }
            Gemm.MultiplyPacked(v.Slice(vAt, count * c), c, false, packed, count, n, c, m.Slice(mAt, (count - 1) * _filters + n), _filters, accumulate: false);
        }
    }

    // Tile rows [first, end) of the image whose tiles start at firstTile in m: [points][tiles, F] → its y: [...Output].
    private void TransformOutput(int firstTile, int first, int end, int tiles, Span<float> y, InferenceWorkspace ws, int firstFilter = 0, int endFilter = -1)
    {
        endFilter = endFilter < 0 ? _filters : endFilter;
        int mStride = Winograd.PointStride(tiles * _filters);
        var m = ws.Products.AsSpan(0, _points * mStride);
        var epilogue = new ConvEpilogue(_bias, _relu, _scale, _shift, _pool is not null);
        int start = firstTile + first * _tileColumns;
        if (_four)
        {
            int top = 4 * first;
            int rows = Math.Min(_g.OutHeight, 4 * end) - top;
            Winograd4.TransformOutput(m, start, mStride, end - first, _tileColumns, _filters, firstFilter, endFilter, epilogue, y[(top * _g.OutWidth * _filters)..], rows, _g.OutWidth);
        }
        else if (_pool is not null)
        {
            // Each tile is one pixel of the pooled map.
            Winograd.TransformOutput(m, start, mStride, end - first, _tileColumns, _filters, firstFilter, endFilter, epilogue, y[(first * _tileColumns * _filters)..], 2 * (end - first), _g.OutWidth);
        }
        else
        {
            int top = 2 * first;
            int rows = Math.Min(_g.OutHeight, 2 * end) - top;
            Winograd.TransformOutput(m, start, mStride, end - first, _tileColumns, _filters, firstFilter, endFilter, epilogue, y[(top * _g.OutWidth * _filters)..], rows, _g.OutWidth);
        }
    }

    // x: [images, H, W, C] → y: [images, ...Output]
    private void RunGemm(Span<float> x, int images, Span<float> y, InferenceWorkspace ws)
    {
        int patches = _g.OutPixels * _g.PatchSize;
        int inSize = _g.Height * _g.Width * _g.Channels;
        int rows = images * _g.OutPixels;
        var col = ws.Columns.AsSpan(0, images * patches);
        for (int j = 0; j < images; j++)
        {
            Convolution.Im2Col(x.Slice(j * inSize, inSize), _g, col.Slice(j * patches, patches));
        }
        // The products [rows, F]: in y, unless a pool follows.
        var z = _pool is not null ? ws.Scratch.AsSpan(0, rows * _filters) : y[..(rows * _filters)];
        Multiply(col, rows, z);
        if (_pool is { } pg)
        {
            int map = _g.OutPixels * _filters;
            for (int j = 0; j < images; j++)
            {
                InferencePasses.MaxPool(z.Slice(j * map, map), pg, y.Slice(j * Output.Size, Output.Size));
            }
        }
    }

    // col: [rows, K·K·C] → z: [rows, F], + bias, ReLU and the affine.
    private void Multiply(Span<float> col, int rows, Span<float> z)
    {
        if (rows <= FewRows)
        {
            // A 1×1 map of one image (strong's last layer at batch 1): the one-row products' sums.
            for (int i = 0; i < rows; i += Gemm.SmallRows)
            {
                int n = Math.Min(Gemm.SmallRows, rows - i);
                Gemv.MultiplyPackedRows(col[(i * _g.PatchSize)..], _g.PatchSize, n, _packed, _filters, _g.PatchSize, z[(i * _filters)..], _filters, _bias, _relu);
            }
        }
        else
        {
            Gemm.MultiplyPacked(col, _g.PatchSize, false, _packed, rows, _filters, _g.PatchSize, z, _filters, accumulate: false, bias: _bias, relu: _relu);
        }
        if (_scale.Length > 0)
        {
            InferencePasses.Affine(z, _scale, _shift, _filters);
        }
    }

    // One image split over threads in two bands of output rows (of tile rows for Winograd: each band's
    // input transform, products and output transform, so its data stays with its thread. More bands
    // measured slower on two threads: the products get fewer rows; a Winograd map of a few tiles is
    // split into two halves of its filters instead). A GEMM stage with a pool runs whole.
    public override int Parts => Math.Min(SplitParts, _direct ? DirectConvolution.OutputRows(_g, _pool is not null)
        : _winograd ? (_filterParts ? SplitParts : _tileRows)
        : _columnParts ? SplitParts
        : _pool is null ? _g.OutHeight : 0);

    public override void RunPart(int part, Span<float> x, Span<float> y, InferenceWorkspace ws)
    {
        int parts = Parts;
        if (_direct)
        {
            var (first, end) = Band(part, parts, DirectConvolution.OutputRows(_g, _pool is not null));
            DirectConvolution.ForwardRows(x, _packed, _g, _filters, new ConvEpilogue(_bias, _relu, _scale, _shift, _pool is not null), y, first, end - first);
        }
        else if (_filterParts)
        {
            // Each part: the whole image's input transform, its filters' products and outputs.
            var (firstFilter, endFilter) = Band(part, parts, _filters / Gemm.NR);
            (firstFilter, endFilter) = (firstFilter * Gemm.NR, endFilter * Gemm.NR);
            int tiles = _tileRows * _tileColumns;
            TransformInput(x, 0, _tileRows, 0, tiles, ws);
            Products(0, tiles, tiles, ws, firstFilter, endFilter);
            TransformOutput(0, 0, _tileRows, tiles, y, ws, firstFilter, endFilter);
        }
        else if (_winograd)
        {
            var (first, end) = Band(part, parts, _tileRows);
            int tiles = _tileRows * _tileColumns;
            TransformInput(x, first, end, 0, tiles, ws);
            Products(first * _tileColumns, (end - first) * _tileColumns, tiles, ws);
            TransformOutput(0, first, end, tiles, y, ws);
        }
        else if (_columnParts)
        {
            // Bands of whole column blocks; each part its own copy of the one im2col row (in its workspace).
            var (first, end) = Band(part, parts, (_filters + Gemv.ColumnBlock - 1) / Gemv.ColumnBlock);
            int from = first * Gemv.ColumnBlock, columns = Math.Min(end * Gemv.ColumnBlock, _filters) - from;
            var col = ws.Columns.AsSpan(0, _g.PatchSize);
            Convolution.Im2Col(x, _g, col);
            Gemv.MultiplyPackedColumns(col, _packed, _filters, _g.PatchSize, y, _bias, _relu, from, columns);
            if (_scale.Length > 0)
            {
                InferencePasses.Affine(y.Slice(from, columns), _scale.AsSpan(from, columns), _shift.AsSpan(from, columns), columns);
            }
        }
        else
        {
            var (first, end) = Band(part, parts, _g.OutHeight);
            int pixel = first * _g.OutWidth, pixels = (end - first) * _g.OutWidth;
            var col = ws.Columns.AsSpan(pixel * _g.PatchSize, pixels * _g.PatchSize);
            Convolution.Im2Col(x, _g, col, first, end - first);
            Multiply(col, pixels, y.Slice(pixel * _filters, pixels * _filters));
        }
    }
}
