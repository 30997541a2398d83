//! A filter.d definition resolved for one jail: prefregex, failregex, ignoreregex, datepattern, maxlines, journalmatch.
