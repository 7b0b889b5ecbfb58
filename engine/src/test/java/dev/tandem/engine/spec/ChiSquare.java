package dev.tandem.engine.spec;

/**
 * Pearson's chi-square goodness-of-fit test with its p-value from the regularized upper incomplete gamma
 * function Q(df / 2, x / 2) (series for x < a + 1, continued fraction otherwise; Numerical Recipes 6.2).
 */
final class ChiSquare {

    /** Bins whose expected count is below this are pooled into one. */
    static final double MIN_EXPECTED = 5.0;
    private static final int MAX_ITERATIONS = 10_000;
    private static final double EPS = 1e-14;
    private static final double TINY = 1e-300;

    record Result(double statistic, int degreesOfFreedom, double pValue) {}

    private ChiSquare() {}

    /**
     * Tests observed counts against expected probabilities (summing to 1); tokens with probability 0 must
     * never be observed (that is asserted by the caller through {@code observedOutsideSupport}).
     */
    static Result test(long[] observed, double[] probabilities) {
        long n = 0;
        for (long o : observed) n += o;
        double stat = 0;
        int bins = 0;
        double pooledExpected = 0;
        long pooledObserved = 0;
        for (int i = 0; i < observed.length; i++) {
            double e = probabilities[i] * n;
            if (e < MIN_EXPECTED) {
                pooledExpected += e;
                pooledObserved += observed[i];
                continue;
            }
            stat += (observed[i] - e) * (observed[i] - e) / e;
            bins++;
        }
        if (pooledExpected > 0) {
            if (pooledExpected >= 1e-9) stat += (pooledObserved - pooledExpected) * (pooledObserved - pooledExpected) / pooledExpected;
            bins++;
        }
        int df = Math.max(1, bins - 1);
        return new Result(stat, df, upperGammaQ(df / 2.0, stat / 2.0));
    }

    /** Sum of independent chi-square results: statistics and degrees of freedom add. */
    static Result combine(Iterable<Result> parts) {
        double stat = 0;
        int df = 0;
        for (Result r : parts) {
            stat += r.statistic();
            df += r.degreesOfFreedom();
        }
        return new Result(stat, df, upperGammaQ(df / 2.0, stat / 2.0));
    }

    /** Q(a, x) = Gamma(a, x) / Gamma(a). */
    static double upperGammaQ(double a, double x) {
        if (x < 0 || a <= 0) throw new IllegalArgumentException("bad arguments a=" + a + " x=" + x);
        if (x == 0) return 1;
        if (x < a + 1) return 1 - lowerSeries(a, x);
        return upperContinuedFraction(a, x);
    }

    private static double lowerSeries(double a, double x) {
        double ap = a;
        double sum = 1 / a;
        double del = sum;
        for (int i = 0; i < MAX_ITERATIONS; i++) {
            ap += 1;
            del *= x / ap;
            sum += del;
            if (Math.abs(del) < Math.abs(sum) * EPS) break;
        }
        return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
    }

    private static double upperContinuedFraction(double a, double x) {
        double b = x + 1 - a;
        double c = 1 / TINY;
        double d = 1 / b;
        double h = d;
        for (int i = 1; i < MAX_ITERATIONS; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.abs(d) < TINY) d = TINY;
            c = b + an / c;
            if (Math.abs(c) < TINY) c = TINY;
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.abs(del - 1) < EPS) break;
        }
        return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
    }

    /** Lanczos approximation of ln Gamma(x), x > 0. */
    static double logGamma(double x) {
        double[] cof = {76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155,
                0.1208650973866179e-2, -0.5395239384953e-5};
        double y = x;
        double tmp = x + 5.5;
        tmp -= (x + 0.5) * Math.log(tmp);
        double ser = 1.000000000190015;
        for (double c : cof) ser += c / ++y;
        return -tmp + Math.log(2.5066282746310005 * ser / x);
    }
}
