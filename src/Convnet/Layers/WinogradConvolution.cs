using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// One 3×3 stride-1 convolution of <see cref="Conv2D"/>'s training run by Winograd (F(4×4, 3×3) when
/// it takes fewer products than F(2×2, 3×3), as the inference plan chooses): the forward x → y, or
/// the input gradient dy → dx, itself such a convolution of dy padded by 2 − pad with the kernel
/// turned 180° and its channels swapped. Per chunk of images it transforms a group of images (about
/// <see cref="GroupTiles"/> tiles), runs the 16 or 36 products through <see cref="Gemm"/> and
/// transforms back; each product's sums are the same whichever thread and buffers run them. The
/// forward's instance also gives the kernel gradient (<see cref="AccumulateKernelGradient"/>) and,
/// with F(4×4) tiles, the input gradient in the transformed domain from the same transformed output
/// gradient D = A·dy·Aᵀ: dV = D·Uᵀ per point, dx = Σ over tiles B·dV·Bᵀ, on the forward's tiles
/// (simple's 13×13 input gradient: 9 tiles instead of the correlation's 16).
/// </summary>
internal sealed class WinogradConvolution
{
    private const int GroupTiles = 48;
    // The input [H, W, C], its top and left zero borders, the output [OH, OW, F].
    private readonly int _height, _width, _channels, _padTop, _padLeft, _outHeight, _outWidth, _filters;
    private readonly bool _four;
    private readonly int _points, _tileRows, _tileColumns, _images, _gradientRow;
    private readonly int _packedPoint, _vStride, _mStride, _paddedSize;
    // Over phases (see OverPhases): the input is images of this geometry, whose phase image each
    // transform makes for itself in the padded buffer; null: the input is the images to transform.
    private readonly ConvGeometry? _phasesOf;
    // Values of one input image: [H, W, C], or the image the phases are taken from.
    private readonly int _inSize;
    // The kernel SetKernel transforms when it is turned, or when the pool's threads transform it
    // (they read it from here: a span cannot be kept for them); its transform U; U packed per point.
    private readonly float[] _kernel, _u, _packed;
    private readonly Action<int> _transformPairs;
    // Uᵀ per point [F, C], packed, for the input gradient in the transformed domain (F(4×4) only):
    // made at its first use.
    private float[] _packedTransposed = [];
    private readonly int _packedTransposedPoint;
    private readonly float[] _zeroBias;
    // One set of buffers per thread (rented by a work item, a chunk or part of one, for its run:
    // which set holds its values changes no sum), so a thread's transforms stay in its L2 from one
    // item to the next; one set per chunk (4 of ~1.2 MB at batch 64) made the forward 30% slower.
    private readonly WinogradScratch _scratch;
    private readonly BufferSlots _slots;
    // One output image per set, for a pool that takes the output image by image (see Run).
    private float[] _image = [];
    // The kernel gradient: each chunk's Σ Vᵀ·D [points, C, F], added in chunk order; the state of
    // the call that runs the pool's items.
    private readonly Action<int> _gradientChunk, _gradientBlock;
    // The kernel's points packed one work item each (for U and Uᵀ).
    private readonly Action<int> _packPoint, _packTransposedPoint;
    private float[] _partials = [];
    // Groups of a chunk taken by threads with no chunk left (see StealGroup): per chunk the groups
    // claimed from the first and (<< 32) from the last; per chunk and group, 1 + the product buffer
    // a taken group was written to, once it is (−1: it failed); the buffers (_stealBuffers of
    // [points, C, F]) and how many of them this call has used.
    private long[] _claims = [];
    private int[] _stolenInto = [];
    private float[] _stealProducts = [];
    private int _stealBuffers, _stolen;
    private readonly int _groupsPerChunk;
    private readonly bool _groupsCanMove;
    private readonly Func<bool> _stealGroup;
    private Tensor? _x, _dy, _dx;
    private MaxPooling2D? _pooled;
    private float[] _dw = [];
    private int _dwOffset, _chunks;

    /// <summary>A convolution of [height, width, channels] images, <paramref name="pad"/> zero rows and columns before them (the output is outHeight × outWidth whatever lies past), into [outHeight, outWidth, filters].</summary>
    public WinogradConvolution(int height, int width, int channels, int pad, int outHeight, int outWidth, int filters)
        : this(height, width, channels, pad, pad, outHeight, outWidth, filters)
    {
    }

    /// <summary>As the other constructor, with <paramref name="padTop"/> zero rows and <paramref name="padLeft"/> zero columns before the images, and the transform buffers of <paramref name="scratch"/> when given (shared with convolutions that run in the same work items, one after another).</summary>
    public WinogradConvolution(int height, int width, int channels, int padTop, int padLeft, int outHeight, int outWidth, int filters, WinogradScratch? scratch = null)
        : this(height, width, channels, padTop, padLeft, outHeight, outWidth, filters, null, scratch)
    {
    }

    private WinogradConvolution(int height, int width, int channels, int padTop, int padLeft, int outHeight, int outWidth, int filters, ConvGeometry? phasesOf, WinogradScratch? scratch)
    {
        _scratch = scratch ?? new WinogradScratch();
        _slots = _scratch.Slots;
        (_height, _width, _channels, _padTop, _padLeft, _outHeight, _outWidth, _filters) = (height, width, channels, padTop, padLeft, outHeight, outWidth, filters);
        (_four, _tileRows, _tileColumns, _images, _vStride, _mStride, _paddedSize) = Layout(channels, Math.Max(padTop, padLeft), outHeight, outWidth, filters);
        _phasesOf = phasesOf;
        _inSize = phasesOf is { } g ? g.Height * g.Width * g.Channels : height * width * channels;
        if (phasesOf is not null)
        {
            _paddedSize = height * width * channels;
        }
        _points = _four ? Winograd4.Points : Winograd.Points;
        _gradientRow = GradientRow(filters);
        _kernel = new float[9 * channels * filters];
        _transformPairs = TransformPairs;
        _u = new float[_points * channels * filters];
        _packedPoint = Gemm.PackedSize(filters, channels);
        _packed = new float[_points * _packedPoint];
        _packedTransposedPoint = Gemm.PackedSize(channels, filters);
        _zeroBias = new float[filters];
        _gradientChunk = GradientChunk;
        _stealGroup = StealGroup;
        (_groupsPerChunk, _groupsCanMove) = Groups(_images, _tileRows * _tileColumns);
        _gradientBlock = GradientBlock;
        _packPoint = PackPoint;
        _packTransposedPoint = PackTransposedPoint;
    }

    /// <summary>
    /// The 3×3 stride-1 convolution over the phases of images of geometry <paramref name="g"/> (a 5×5 or
    /// 6×6 stride-2 one, see <see cref="SpaceToDepth"/>) whose input is those images: each image's phase
    /// image is made where its transform reads it, in a buffer of one image per thread, so the batch's
    /// phase images (a third larger than the input) are never written or read.
    /// </summary>
    public static WinogradConvolution OverPhases(in ConvGeometry g, int filters)
    {
        var (height, width) = SpaceToDepth.Size(g);
        return new(height, width, 4 * g.Channels, 0, 0, g.OutHeight, g.OutWidth, filters, g, null);
    }

    /// <summary>Values of the buffers <paramref name="threads"/> threads need (the kernel's transforms besides), the kernel gradient's partial sums for <paramref name="chunks"/> chunks (0: no kernel gradient), and with <paramref name="inputGradient"/> the transposed kernel that <see cref="GivesInputGradientFor"/> shapes use.</summary>
    public static long BufferValues(int channels, int pad, int outHeight, int outWidth, int filters, int threads, int chunks = 0, bool inputGradient = false)
    {
        var (four, tileRows, tileColumns, images, vStride, mStride, paddedSize) = Layout(channels, pad, outHeight, outWidth, filters);
        int points = four ? Winograd4.Points : Winograd.Points;
        long transposed = inputGradient && four ? (long)points * Gemm.PackedSize(channels, filters) : 0;
        var (groups, canMove) = Groups(images, tileRows * tileColumns);
        long products = chunks + StealBuffers(threads, chunks, groups, canMove);
        return threads * ScratchValues(channels, pad, outHeight, outWidth, filters) + (9L + points + products * points) * channels * filters + transposed;
    }

    /// <summary>Values of one thread's transform buffers (a set of <see cref="WinogradScratch"/>).</summary>
    public static long ScratchValues(int channels, int pad, int outHeight, int outWidth, int filters)
    {
        var (four, _, _, _, vStride, mStride, paddedSize) = Layout(channels, pad, outHeight, outWidth, filters);
        return (long)(four ? Winograd4.Points : Winograd.Points) * (vStride + mStride) + paddedSize;
    }

    // Groups of images in a full chunk, and whether one may run on another thread than its chunk:
    // when its product is one GEMM block (at most KC tiles), its fresh sum added to the chunk's
    // partial there or later gives the same bits.
    private static (int Groups, bool CanMove) Groups(int images, int tilesPerImage)
    {
        int groups = (Chunks.Size + images - 1) / images;
        return (groups, groups > 1 && images * tilesPerImage <= Gemm.KC);
    }

    // Products of groups run away from their chunk, per call: enough for the few groups at the end
    // of a loop that one thread takes while another finishes its chunk.
    private static int StealBuffers(int threads, int chunks, int groups, bool canMove) =>
        canMove && threads > 1 && chunks > 1 ? (threads - 1) * Math.Min(groups - 1, 4) : 0;

    /// <summary>Whether the forward of an outHeight × outWidth map runs on F(4×4) tiles, so that its <see cref="AccumulateKernelGradient"/> gives the input gradient too.</summary>
    public static bool GivesInputGradientFor(int outHeight, int outWidth) => Layout(8, 0, outHeight, outWidth, 8).Four;

    // The larger tiles when they take fewer products; a group of images per product of about GroupTiles rows.
    private static (bool Four, int TileRows, int TileColumns, int Images, int VStride, int MStride, int PaddedSize) Layout(int channels, int pad, int outHeight, int outWidth, int filters)
    {
        var (rows2, columns2) = Winograd.Tiles(outHeight, outWidth);
        var (rows4, columns4) = Winograd4.Tiles(outHeight, outWidth);
        bool four = rows4 * columns4 * Winograd4.Points < 0.85 * rows2 * columns2 * Winograd.Points;
        var (rows, columns) = four ? (rows4, columns4) : (rows2, columns2);
        int images = Math.Clamp(GroupTiles / (rows * columns), 1, Chunks.Size);
        // As many groups, as equal as they come: 16 images of 9 tiles in groups of 4 (products of 36
        // rows), not 5 + 5 + 5 + 1, whose last products of 9 rows ran at a fraction of the others' speed.
        int groups = (Chunks.Size + images - 1) / images;
        images = (Chunks.Size + groups - 1) / groups;
        int tiles = images * rows * columns;
        int paddedSize = pad == 0 ? 0 : (outHeight + 2) * (outWidth + 2) * channels;
        // The products' buffer holds the transformed output gradient too, in rows of GradientRow.
        return (four, rows, columns, images, Winograd.PointStride(tiles * channels), Winograd.PointStride(tiles * GradientRow(filters)), paddedSize);
    }

    // The row stride of the transformed output gradient: F, or a little more when rows F apart would
    // crowd into a few L1 sets and make the GEMM copy the operand it could read in place (F = 64).
    private static int GradientRow(int filters)
    {
        int row = filters;
        while (filters % 8 == 0 && !Gemm.CanReadBInPlace(false, row, filters) && row < filters + 64)
        {
            row += 8;
        }
        return Gemm.CanReadBInPlace(false, row, filters) ? row : filters;
    }

    /// <summary>Images of a work item of a pool that runs the convolution over parts of a chunk: whole groups of images (see <see cref="Chunks.PartOf"/>).</summary>
    public int ItemImages => Chunks.PartOf(_images);

    /// <summary>
    /// Images of the smallest run of a work item that gives its images the item's values (each tile's
    /// products are its own, whatever the group) at the group's speed: the fewest images dividing a
    /// group whose products fill the GEMM's rows of <see cref="Gemm.MR"/> as well as the group's do
    /// (2 images of 9 tiles, 18 rows, in a group of 4; not 1, whose 9 rows take as long as 12).
    /// </summary>
    public int RunImages
    {
        get
        {
            int perImage = _tileRows * _tileColumns;
            double Filled(int images) => images * perImage / (double)((images * perImage + Gemm.MR - 1) / Gemm.MR * Gemm.MR);
            for (int run = 1; run < _images; run++)
            {
                if (_images % run == 0 && ItemImages % run == 0 && Filled(run) >= Filled(_images))
                {
                    return run;
                }
            }
            return ItemImages % _images == 0 ? _images : ItemImages;
        }
    }

    /// <summary>Whether a convolution of this shape runs here: 3×3, stride 1, at least 8 channels summed over (shorter sums gain less than the transforms cost).</summary>
    public static bool Applies(in ConvGeometry g, int summedChannels) =>
        g.KernelHeight == 3 && g.KernelWidth == 3 && g.Stride == 1 && summedChannels >= 8;

    /// <summary>Makes room for <paramref name="threads"/> chunks run at once, and for the kernel gradient of <paramref name="chunks"/> chunks (0: none); with <paramref name="pooled"/>, for an output pooled image by image.</summary>
    public void EnsureCapacity(int threads, int chunks = 0, bool pooled = false)
    {
        if (pooled && _image.Length < (long)threads * _outHeight * _outWidth * _filters)
        {
            _image = GC.AllocateArray<float>(threads * _outHeight * _outWidth * _filters, pinned: true);
        }
        long partials = (long)chunks * _points * _channels * _filters;
        if (_partials.Length < partials)
        {
            _partials = GC.AllocateArray<float>(checked((int)partials), pinned: true);
        }
        if (_claims.Length < chunks)
        {
            _claims = new long[chunks];
            _stolenInto = new int[chunks * _groupsPerChunk];
        }
        _stealBuffers = StealBuffers(threads, chunks, _groupsPerChunk, _groupsCanMove);
        long products = (long)_stealBuffers * _points * _channels * _filters;
        if (_stealProducts.Length < products)
        {
            _stealProducts = GC.AllocateArray<float>(checked((int)products), pinned: true);
        }
        _scratch.EnsureCapacity(threads, _points * _vStride, _points * _mStride, _paddedSize);
    }

    /// <summary>Transforms and packs the kernel [3, 3, C, F]; <paramref name="rotated"/>: the given kernel is the forward's [3, 3, F, C], to be turned 180° with its channels swapped.</summary>
    public void SetKernel(ReadOnlySpan<float> kernel, bool rotated, WorkerPool? pool = null)
    {
        ReadOnlySpan<float> w = kernel;
        bool pairsOnPool = _four && pool is not null && _channels * _filters > PairsPerItem;
        if (rotated)
        {
            WinogradTraining.RotateKernel(kernel, _filters, _channels, _kernel);
            w = _kernel;
        }
        else if (pairsOnPool)
        {
            kernel[.._kernel.Length].CopyTo(_kernel);
        }
        if (pairsOnPool)
        {
            // Blocks of pairs on the pool's threads: the transform writes 36 values a pair (2.4 MB
            // for 256 × 64), serially a tenth of a millisecond or more per layer and step.
            pool!.For((_channels * _filters + PairsPerItem - 1) / PairsPerItem, _transformPairs);
        }
        else if (_four)
        {
            WinogradTraining.TransformWeights4(w, _channels, _filters, _u);
        }
        else
        {
            Winograd.TransformWeights(w, _channels, _filters, _u);
        }
        RunPoints(pool, _packPoint);
    }

    // Channel pairs per work item of the kernel's transform: a multiple of 8 (TransformWeights4's vectors).
    private const int PairsPerItem = 512;

    private void TransformPairs(int item)
    {
        int first = item * PairsPerItem;
        WinogradTraining.TransformWeights4(_kernel, _channels, _filters, first, Math.Min(PairsPerItem, _channels * _filters - first), _u);
    }

    // U[p]: [C, F], packed as op(b) for the forward's products.
    private void PackPoint(int p)
    {
        int cf = _channels * _filters;
        Gemm.PackB(_u.AsSpan(p * cf, cf), _filters, false, _filters, _channels, _packed.AsSpan(p * _packedPoint, _packedPoint));
    }

    // Each point on the pool's threads, or one after another without a pool: packing is a move
    // through memory (36 points of 64 × 64 are 590 KB each way), which two cores do faster than one.
    private void RunPoints(WorkerPool? pool, Action<int> point)
    {
        if (pool is null)
        {
            for (int p = 0; p < _points; p++)
            {
                point(p);
            }
            return;
        }
        pool.For(_points, point);
    }

    /// <summary>Packs Uᵀ per point from the kernel <see cref="SetKernel"/> last transformed (the forward's), for the input gradient in the transformed domain.</summary>
    public void SetKernelTransposed(WorkerPool? pool = null)
    {
        if (!_four)
        {
            throw new InvalidOperationException("The input gradient in the transformed domain needs F(4×4) tiles.");
        }
        if (_packedTransposed.Length == 0)
        {
            _packedTransposed = new float[_points * _packedTransposedPoint];
        }
        RunPoints(pool, _packTransposedPoint);
    }

    // U[p]: [C, F] → op(b) = U[p]ᵀ: [F, C], packed for dV = D·Uᵀ.
    private void PackTransposedPoint(int p)
    {
        int cf = _channels * _filters;
        Gemm.PackB(_u.AsSpan(p * cf, cf), _filters, true, _channels, _filters, _packedTransposed.AsSpan(p * _packedTransposedPoint, _packedTransposedPoint));
    }

    /// <summary>
    /// y = x ⋆ kernel (+ bias, ReLU) for <paramref name="count"/> images, in a set of buffers of its
    /// own; an empty bias adds nothing. With <paramref name="pool"/>, each output image goes to the
    /// pool as sample <paramref name="firstSample"/> + its index (<see cref="MaxPooling2D.ForwardSample"/>)
    /// from a buffer of one image, and y is not written.
    /// </summary>
    // x: [count, H, W, C] → y: [count, OH, OW, F], or the pool's samples firstSample..
    public void Run(ReadOnlySpan<float> x, int count, ReadOnlySpan<float> bias, bool relu, Span<float> y, MaxPooling2D? pool = null, int firstSample = 0)
    {
        int slot = _slots.Rent();
        try
        {
            Run(slot, x, count, bias, relu, y, pool, firstSample);
        }
        finally
        {
            _slots.Return(slot);
        }
    }

    private void Run(int slot, ReadOnlySpan<float> x, int count, ReadOnlySpan<float> bias, bool relu, Span<float> y, MaxPooling2D? pool, int firstSample)
    {
        int inSize = _inSize;
        int outSize = _outHeight * _outWidth * _filters;
        int perImage = _tileRows * _tileColumns;
        var v = _scratch.Transformed(slot, _points * _vStride);
        var m = _scratch.Products(slot, _points * _mStride);
        var padded = _scratch.Padded(slot, _paddedSize);
        var epilogue = new ConvEpilogue(bias.IsEmpty ? _zeroBias : bias, relu, default, default, false);
        for (int i = 0; i < count; i += _images)
        {
            int images = Math.Min(_images, count - i);
            TransformInputs(x.Slice(i * inSize, images * inSize), images, padded, v);
            int tiles = images * perImage;
            for (int p = 0; p < _points; p++)
            {
                Gemm.MultiplyPacked(v.Slice(p * _vStride, tiles * _channels), _channels, false, _packed.AsSpan(p * _packedPoint, _packedPoint), tiles, _filters, _channels, m.Slice(p * _mStride, tiles * _filters), _filters, accumulate: false);
            }
            for (int j = 0; j < images; j++)
            {
                var target = pool is null ? y.Slice((i + j) * outSize, outSize) : _image.AsSpan(slot * outSize, outSize);
                if (_four)
                {
                    Winograd4.TransformOutput(m, j * perImage, _mStride, _tileRows, _tileColumns, _filters, epilogue, target, _outHeight, _outWidth);
                }
                else
                {
                    Winograd.TransformOutput(m, j * perImage, _mStride, _tileRows, _tileColumns, _filters, epilogue, target, _outHeight, _outWidth);
                }
                pool?.ForwardSample(target, firstSample + i + j);
            }
        }
    }

    // V = Bᵀ·d·B of every tile of a group of images, the image padded first when the convolution pads.
    // x: [images, H, W, C] → v: [points][images · tiles per image, C]
    private void TransformInputs(ReadOnlySpan<float> x, int images, Span<float> padded, Span<float> v)
    {
        int perImage = _tileRows * _tileColumns;
        for (int j = 0; j < images; j++)
        {
            var image = x.Slice(j * _inSize, _inSize);
            int height = _height, width = _width;
            if (_phasesOf is { } g)
            {
                SpaceToDepth.Forward(image, g, 0, _height, padded);
                image = padded;
            }
            else if (_padTop > 0 || _padLeft > 0)
            {
                height = _outHeight + 2;
                width = _outWidth + 2;
                WinogradTraining.PadImage(image, _height, _width, _channels, _padTop, _padLeft, height, width, padded);
                image = padded;
            }
            if (_four)
            {
                Winograd4.TransformInput(image, height, width, _channels, _tileRows, _tileColumns, v, j * perImage, _vStride);
            }
            else
            {
                Winograd.TransformInput(image, height, width, _channels, _tileRows, _tileColumns, v, j * perImage, _vStride);
            }
        }
    }

    /// <summary>
    /// kernel gradient += the gradient of this (forward) convolution for the batch: per point, the
    /// products Σ over tiles Vᵀ·D of the transformed input V (as the forward transforms it) and the
    /// output gradient transformed by A (D = A·dy·Aᵀ), brought back to 3×3 by G. Each chunk of
    /// images sums its groups' products in group order into partials [points, C, F] that are added in
    /// chunk order, so the result is the same for any thread count. With <paramref name="dx"/> (F(4×4)
    /// tiles, after <see cref="SetKernelTransposed"/>), each group also writes its images' input
    /// gradient from the same D: dV = D·Uᵀ per point, then B·dV·Bᵀ of every tile added into dx.
    /// </summary>
    // x: [N, H, W, C], dy: [N, OH, OW, F] → kernelGradient[offset..]: [3, 3, C, F] (accumulated), dx: [N, H, W, C]
    // With pooled, each image's dy is the pool's input gradient (MaxPooling2D.InputGradientSample), made in a buffer of one image; dy is not read.
    public void AccumulateKernelGradient(WorkerPool pool, Tensor x, Tensor dy, float[] kernelGradient, int offset, Tensor? dx = null, MaxPooling2D? pooled = null)
    {
        if (dx is not null && _phasesOf is not null)
        {
            throw new InvalidOperationException("A convolution over phases gives no input gradient in the transformed domain.");
        }
        (_x, _dy, _dx, _dw, _dwOffset, _chunks, _pooled) = (x, dy, dx, kernelGradient, offset, Chunks.Count(dy.Batch), pooled);
        if (_partials.Length < (long)_chunks * _points * _channels * _filters || _claims.Length < _chunks)
        {
            throw new InvalidOperationException($"The kernel gradient has room for fewer than {_chunks} chunks: EnsureCapacity was not called for this batch.");
        }
        Array.Clear(_claims, 0, _chunks);
        Array.Clear(_stolenInto, 0, _chunks * _groupsPerChunk);
        _stolen = 0;
        pool.For(_chunks, _gradientChunk, _stealBuffers > 0 ? _stealGroup : null);
        pool.For((_channels * _filters + PairBlock - 1) / PairBlock, _gradientBlock);
        (_x, _dy, _dx, _dw, _pooled) = (null, null, null, [], null);
    }

    private const int PairBlock = 256;

    /// <summary>Groups the last <see cref="AccumulateKernelGradient"/> ran on another thread than their chunk's.</summary>
    internal int MovedGroups => _chunks * _groupsPerChunk - _stolenInto.AsSpan(0, _chunks * _groupsPerChunk).Count(0);

    // Groups of chunk c: ⌈images / _images⌉.
    private int GroupsOf(int chunk) => (Chunks.Range(chunk, _dy!.Batch).Length + _images - 1) / _images;

    // The chunk's groups from the first, each product added into the chunk's partial, until they
    // meet the groups other threads took from the last (StealGroup); then those, added in order:
    // the partial a run of every group here gives, bit for bit.
    private void GradientChunk(int chunk)
    {
        int cf = _channels * _filters;
        var partial = _partials.AsSpan(chunk * _points * cf, _points * cf);
        int groups = GroupsOf(chunk);
        int own = 0;
        int slot = _slots.Rent();
        try
        {
            while (true)
            {
                long claims = Volatile.Read(ref _claims[chunk]);
                int front = (int)claims, back = (int)(claims >> 32);
                if (front + back >= groups)
                {
                    break;
                }
                if (Interlocked.CompareExchange(ref _claims[chunk], claims + 1, claims) != claims)
                {
                    continue;
                }
                GradientGroup(slot, chunk, front, partial, accumulate: front > 0);
                own = front + 1;
            }
        }
        finally
        {
            _slots.Return(slot);
        }
        var spin = new SpinWait();
        for (int group = own; group < groups; group++)
        {
            ref int into = ref _stolenInto[chunk * _groupsPerChunk + group];
            while (Volatile.Read(ref into) == 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
            if (into < 0)
            {
                throw new InvalidOperationException($"Group {group} of chunk {chunk} of the kernel gradient failed on another thread.");
            }
            var stolen = _stealProducts.AsSpan((into - 1) * _points * cf, _points * cf);
            Elementwise.Map<AddOperator>(partial, stolen, partial);
        }
    }

    // The pool's help (a thread with no chunk left to start): the last unclaimed group of the chunk
    // with the most left, among those begun, into a product of its own (while there is one free)
    // for that chunk's run to add in order. False when there is nothing to take.
    private bool StealGroup()
    {
        if (!_slots.TryRent(out int slot))
        {
            return false;
        }
        try
        {
            int buffer = -1;
            while (true)
            {
                if (buffer < 0)
                {
                    int next = Volatile.Read(ref _stolen);
                    if (next >= _stealBuffers)
                    {
                        return false;
                    }
                    if (Interlocked.CompareExchange(ref _stolen, next + 1, next) != next)
                    {
                        continue;
                    }
                    buffer = next;
                }
                int chunk = -1, most = 0;
                long seen = 0;
                for (int c = 0; c < _chunks; c++)
                {
                    long claims = Volatile.Read(ref _claims[c]);
                    int front = (int)claims, left = GroupsOf(c) - front - (int)(claims >> 32);
                    // A chunk whose run has not begun is left to it: its first product is not an addition.
                    if (front > 0 && left > most)
                    {
                        (chunk, most, seen) = (c, left, claims);
                    }
                }
                if (chunk < 0)
                {
                    return false;
                }
                if (Interlocked.CompareExchange(ref _claims[chunk], seen + (1L << 32), seen) != seen)
                {
                    continue;
                }
                int group = GroupsOf(chunk) - 1 - (int)(seen >> 32);
                int size = _points * _channels * _filters;
                ref int into = ref _stolenInto[chunk * _groupsPerChunk + group];
                try
                {
                    GradientGroup(slot, chunk, group, _stealProducts.AsSpan(buffer * size, size), accumulate: false);
                }
                catch
                {
                    // The chunk's run waits for this group: tell it the group failed (the pool reports why).
                    Volatile.Write(ref into, -1);
                    throw;
                }
                Volatile.Write(ref into, buffer + 1);
                return true;
            }
        }
        finally
        {
            _slots.Return(slot);
        }
    }

    // Group g of the chunk: Σ over its tiles Vᵀ·D per point into product (added to it with
    // accumulate, the GEMM's fresh sum plus what is there), and its images' input gradient.
    private void GradientGroup(int slot, int chunk, int group, Span<float> product, bool accumulate)
    {
        var (start, count) = Chunks.Range(chunk, _dy!.Batch);
        int cf = _channels * _filters;
        int perImage = _tileRows * _tileColumns;
        int inSize = _inSize;
        int outSize = _outHeight * _outWidth * _filters;
        var v = _scratch.Transformed(slot, _points * _vStride);
        var d = _scratch.Products(slot, _points * _mStride);
        var padded = _scratch.Padded(slot, _paddedSize);
        int i = group * _images;
        int images = Math.Min(_images, count - i);
        var x = _x!.Samples(start + i, images);
        TransformInputs(x, images, padded, v);
        for (int j = 0; j < images; j++)
        {
            Span<float> image;
            if (_pooled is not null)
            {
                image = _image.AsSpan(slot * outSize, outSize);
                _pooled.InputGradientSample(start + i + j, image);
            }
            else
            {
                image = _dy.Samples(start + i + j, 1);
            }
            WinogradTraining.TransformOutputGradient(image, _outHeight, _outWidth, _filters, _four, _tileRows, _tileColumns, d, j * perImage, _gradientRow, _mStride);
        }
        int tiles = images * perImage;
        for (int p = 0; p < _points; p++)
        {
            // M[p]: [C, F] (+)= V[p]ᵀ·D[p]
            Gemm.Multiply(v.Slice(p * _vStride, tiles * _channels), _channels, true, d.Slice(p * _mStride, (tiles - 1) * _gradientRow + _filters), _gradientRow, false, _channels, _filters, tiles, product.Slice(p * cf, cf), _filters, accumulate);
        }
        if (_dx is null)
        {
            return;
        }
        // dV[p] = D[p]·U[p]ᵀ into V's buffer (its products are done), then B·dV·Bᵀ of every tile into dx.
        for (int p = 0; p < _points; p++)
        {
            Gemm.MultiplyPacked(d.Slice(p * _mStride, (tiles - 1) * _gradientRow + _filters), _gradientRow, false, _packedTransposed.AsSpan(p * _packedTransposedPoint, _packedTransposedPoint), tiles, _channels, _filters, v.Slice(p * _vStride, tiles * _channels), _channels, accumulate: false);
        }
        var dx = _dx.Samples(start + i, images);
        for (int j = 0; j < images; j++)
        {
            // Cleared here, not for the whole chunk first: the image's lines come into L2 to be
            // added to at once (a chunk of strong's 26×26×32 gradients is 1.4 MB, past L2).
            var image = dx.Slice(j * inSize, inSize);
            image.Clear();
            WinogradTraining.AccumulateInputGradient4(v, j * perImage, _vStride, _tileRows, _tileColumns, _channels, _padTop, _padLeft, image, _height, _width);
        }
    }

    // Pairs [block · PairBlock, …): the chunks' partials added in chunk order into the first, then brought back by G.
    private void GradientBlock(int block)
    {
        int cf = _channels * _filters;
        int first = block * PairBlock;
        int count = Math.Min(PairBlock, cf - first);
        int size = _points * cf;
        var sum = _partials.AsSpan(0, size);
        for (int s = 1; s < _chunks; s++)
        {
            var partial = _partials.AsSpan(s * size, size);
            for (int p = 0; p < _points; p++)
            {
                var target = sum.Slice(p * cf + first, count);
                Elementwise.Map<AddOperator>(target, partial.Slice(p * cf + first, count), target);
            }
        }
        WinogradTraining.AccumulateKernelGradient(sum, cf, _four, first, count, _dw.AsSpan(_dwOffset, 9 * cf));
    }
}
