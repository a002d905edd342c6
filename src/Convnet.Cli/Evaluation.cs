using Convnet.Data;
using Convnet.Layers;
using Convnet.Models;

namespace Convnet.Cli;

/// <summary>One ensemble member's score on its own: its name in the model file ("member0", ...), its seed, its correct predictions.</summary>
internal sealed record MemberScore(string Member, string Seed, int Correct, int Total)
{
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;
}

/// <summary>Precision, recall and F1 of one class.</summary>
internal readonly record struct ClassScores(int Class, double Precision, double Recall, double F1, int Support);

/// <summary>The confusion matrix and the scores derived from it; the console table and the HTML report both print this.</summary>
internal sealed class Evaluation
{
    private Evaluation(int classes, int[,] confusion, int correct, int total)
    {
        Classes = classes;
        Confusion = confusion;
        Correct = correct;
        Total = total;
    }

    public int Classes { get; }

    /// <summary>[true, predicted] counts.</summary>
    public int[,] Confusion { get; }

    public int Correct { get; }
    public int Total { get; }
    public int Errors => Total - Correct;
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;

    /// <summary>
    /// Counts over at least <paramref name="classes"/> classes (a named model's, so that a class
    /// with no images still has its row), and more when a label or prediction is larger.
    /// </summary>
    public static Evaluation Of(ReadOnlySpan<byte> truth, ReadOnlySpan<byte> predicted, int classes = 1)
    {
        if (truth.Length != predicted.Length)
        {
            throw new ArgumentException("truth and predictions differ in length");
        }
        classes = Math.Max(1, classes);
        for (int i = 0; i < truth.Length; i++)
        {
            classes = Math.Max(classes, Math.Max(truth[i], predicted[i]) + 1);
        }
        var confusion = new int[classes, classes];
        int correct = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            confusion[truth[i], predicted[i]]++;
            correct += truth[i] == predicted[i] ? 1 : 0;
        }
        return new Evaluation(classes, confusion, correct, truth.Length);
    }

    public ClassScores Scores(int c)
    {
        int tp = Confusion[c, c], actual = 0, predicted = 0;
        for (int k = 0; k < Classes; k++)
        {
            actual += Confusion[c, k];
            predicted += Confusion[k, c];
        }
        double precision = predicted == 0 ? 0 : (double)tp / predicted;
        double recall = actual == 0 ? 0 : (double)tp / actual;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new ClassScores(c, precision, recall, f1, actual);
    }

    public int RowTotal(int trueClass)
    {
        int sum = 0;
        for (int k = 0; k < Classes; k++)
        {
            sum += Confusion[trueClass, k];
        }
        return sum;
    }
}

/// <summary>A model's class probabilities for a data set, with each sample's best and second-best class.</summary>
internal sealed class Predictions
{
    private Predictions(float[] probabilities, int classes)
    {
        Probabilities = probabilities;
        Classes = classes;
        Count = probabilities.Length / classes;
        Best = new int[Count];
        RunnerUp = new int[Count];
        for (int i = 0; i < Count; i++)
        {
            var p = Row(i);
            int best = Classifier.ArgMax(p);
            int second = best == 0 ? 1 : 0;
            for (int j = 0; j < p.Length; j++)
            {
                if (j != best && p[j] > p[second])
                {
                    second = j;
                }
            }
            Best[i] = best;
            RunnerUp[i] = second;
        }
    }

    /// <summary>[Count, Classes], each row summing to 1.</summary>
    public float[] Probabilities { get; }
    public int Classes { get; }
    public int Count { get; }
    public int[] Best { get; }
    public int[] RunnerUp { get; }

    public ReadOnlySpan<float> Row(int i) => Probabilities.AsSpan(i * Classes, Classes);

    public float Probability(int i, int c) => Probabilities[i * Classes + c];

    public byte[] BestAsBytes() => Best.Select(c => (byte)c).ToArray();

    /// <summary>
    /// Runs the model; a single model that does not end with Softmax has its outputs turned into
    /// probabilities here (an ensemble's are already the mean of its members' probabilities).
    /// </summary>
    public static Predictions Of(IClassifier net, Dataset data)
    {
        var outputs = net.Predict(data);
        int classes = net.Classes;
        var model = net is TestTimeAugmentation tta ? tta.Inner : net;
        if (model is Sequential single && (single.Layers.Count == 0 || single.Layers[^1] is not Softmax))
        {
            for (int i = 0; i < outputs.Length; i += classes)
            {
                var row = outputs.AsSpan(i, classes);
                float max = float.NegativeInfinity;
                foreach (float v in row)
                {
                    max = Math.Max(max, v);
                }
                float sum = 0;
                for (int j = 0; j < row.Length; j++)
                {
                    row[j] = MathF.Exp(row[j] - max);
                    sum += row[j];
                }
                for (int j = 0; j < row.Length; j++)
                {
                    row[j] /= sum;
                }
            }
        }
        return new Predictions(outputs, classes);
    }

    /// <summary>Class probabilities computed elsewhere: [count, classes].</summary>
    public static Predictions FromProbabilities(float[] probabilities, int classes) => new(probabilities, classes);
}
